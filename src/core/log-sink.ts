// Where pino's lines go: gathered in memory and written in batches by the thread pool, so
// that neither a slow reader nor one write per line stalls a syscall, and a log that
// cannot be written (a full disk, a closed pipe) never takes the daemon down or hangs it
// at exit. sonic-boom, pino's own writer, throws on its 'error' event and retries a
// failing synchronous flush forever, so the daemon writes its logs itself.

import fs from 'node:fs';
import path from 'node:path';

/** How long a buffered line may wait for more before it is written. */
const FLUSH_MS = 50;
/** A batch this large is written at once. */
const BATCH = 4096;
/** Bytes held while the log cannot be written; lines beyond are dropped. */
const MAX_BUFFERED = 8 * 1024 * 1024;
/** At most one stderr line this often about failed writes and dropped lines. */
const REPORT_MS = 60_000;

export class LogSink {
  private readonly fd: number;
  /** Bytes a failed or partial write left, written before anything newer. */
  private pending: Buffer | undefined;
  private lines: string[] = [];
  private size = 0;
  private writing = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly trouble = { errors: 0, dropped: 0, last: '', reportedAt: 0 };

  /** `dest`: an fd, or a file appended to (its directory is made). */
  constructor(private readonly dest: number | string) {
    if (typeof dest === 'number') this.fd = dest;
    else {
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      this.fd = fs.openSync(dest, 'a');
    }
  }

  /** Called by pino with one serialized line. */
  write(line: string): void {
    if (this.size > MAX_BUFFERED) {
      this.trouble.dropped++;
      this.report();
      return;
    }
    this.lines.push(line);
    this.size += line.length;
    if (this.size >= BATCH) this.flush();
    else this.arm();
  }

  /** Failed writes and dropped lines so far. */
  get failures(): { errors: number; dropped: number } {
    return { errors: this.trouble.errors, dropped: this.trouble.dropped };
  }

  private arm(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, FLUSH_MS).unref();
  }

  /** The oldest bytes first: a failed write's rest alone (no copying while a log is down), else the lines. */
  private take(): Buffer {
    const left = this.pending;
    if (left !== undefined) {
      this.pending = undefined;
      this.size -= left.length;
      return left;
    }
    const out = Buffer.from(this.lines.join(''));
    this.lines = [];
    this.size = 0;
    return out;
  }

  /** Starts writing what is buffered, unless a write is already under way. */
  private flush(): void {
    if (this.writing || (this.size === 0 && this.pending === undefined)) return;
    const buf = this.take();
    this.writing = true;
    fs.write(this.fd, buf, 0, buf.length, null, (err, n) => {
      this.writing = false;
      const rest = err ? buf : buf.subarray(n);
      if (rest.length > 0) {
        this.pending = rest; // take() emptied it, and only this callback refills it
        this.size += rest.length;
      }
      if (err && err.code !== 'EAGAIN') this.failed(err);
      if (err) this.arm(); // try again later, not in a loop
      else if (rest.length > 0 || this.size >= BATCH) this.flush();
      else if (this.size > 0) this.arm();
    });
  }

  /**
   * Before exiting: one synchronous attempt at what is buffered; a failure loses it. A
   * write still under way in the thread pool may land after these lines.
   */
  flushSync(): void {
    try {
      while (this.size > 0 || this.pending !== undefined) {
        let buf = this.take();
        while (buf.length > 0) {
          const n = fs.writeSync(this.fd, buf);
          if (n <= 0) return;
          buf = buf.subarray(n);
        }
      }
    } catch (err) {
      this.failed(err as NodeJS.ErrnoException);
    }
  }

  private failed(err: NodeJS.ErrnoException): void {
    this.trouble.errors++;
    this.trouble.last = err.code ?? err.message;
    this.report();
  }

  private report(): void {
    const now = Date.now();
    if (now - this.trouble.reportedAt < REPORT_MS) return;
    this.trouble.reportedAt = now;
    const { errors, dropped, last } = this.trouble;
    try {
      fs.writeSync(2, `interceptd: log ${String(this.dest)} cannot be written (${last || 'over 8 MiB waiting'}); ${errors} failed writes, ${dropped} lines dropped so far\n`);
    } catch {
      // stderr is gone too
    }
  }
}
