// One pino logger for the daemon: JSON lines, level from --log-level or INTERCEPTD_LOG.
// Writes are buffered and asynchronous: a slow log reader must never stall a syscall.

import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export interface DaemonLogger {
  readonly log: Logger;
  /** Writes out what is buffered (call before exiting). */
  flush(): void;
}

/** How long a buffered line may wait for more before it is written. */
const FLUSH_MS = 50;

/**
 * A pino logger writing to `dest` (an fd or a file path, created with its directory).
 * Lines are gathered up to 4 KiB or FLUSH_MS: one write per line would cost a thread-pool
 * round trip (two wake-ups) on every audited syscall. A SIGKILL loses at most FLUSH_MS.
 */
export function batchedLogger(dest: number | string, opts: { level?: string; name: string }): DaemonLogger {
  const boom = pino.destination({ dest, sync: false, minLength: 4096, mkdir: typeof dest === 'string' });
  // sonic-boom's count of bytes not yet written (private, but there since v1): a
  // flush while a write is in flight leaves the rest buffered, so the timer runs again.
  const buffered = boom as unknown as { _len: number };
  let timer: NodeJS.Timeout | undefined;
  const flushSoon = (): void => {
    timer = undefined;
    boom.flush();
    if (buffered._len > 0) timer = setTimeout(flushSoon, FLUSH_MS).unref();
  };
  const sink = {
    write(line: string): void {
      boom.write(line);
      if (timer === undefined) timer = setTimeout(flushSoon, FLUSH_MS).unref();
    },
  };
  return {
    log: pino({ level: opts.level ?? 'info', base: { name: opts.name } }, sink),
    flush: () => {
      try {
        boom.flushSync();
      } catch {
        // nothing to flush, or the file or stdout is gone
      }
    },
  };
}

export function createLogger(level = process.env.INTERCEPTD_LOG ?? 'info', fd = 1): DaemonLogger {
  return batchedLogger(fd, { level, name: 'interceptd' });
}

/** A logger that writes nothing (tests, CLI subcommands). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
