// The daemon's log gathers lines and writes them in batches, yet never holds one back:
// a line is written within FLUSH_MS even if nothing else is logged after it.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { createLogger } from '../src/core/log.js';
import { LogSink } from '../src/core/log-sink.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function lines(file: string): { msg: string; i?: number }[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; i?: number });
}

/** A daemon logger writing to a fresh file, and that file. */
function fileLogger(t: Test): { file: string } & ReturnType<typeof createLogger> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'icd-log-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'log');
  const fd = fs.openSync(file, 'w');
  t.teardown(() => fs.closeSync(fd));
  return { file, ...createLogger('info', fd) };
}

t.test('a lone line is written without a flush call, and a burst arrives whole and in order', async (t) => {
  const { file, log } = fileLogger(t);

  log.info('first');
  await sleep(300);
  t.same(lines(file).map((l) => l.msg), ['first'], 'written by the timer');

  for (let i = 0; i < 5000; i++) log.info({ i }, 'burst');
  log.info('last');
  await sleep(500);
  const got = lines(file);
  t.equal(got.length, 5002);
  t.ok(got.slice(1, 5001).every((l, i) => l.i === i), 'every burst line, in order');
  t.equal(got.at(-1)?.msg, 'last');
});

t.test('flush() writes what is buffered at once (before exit)', async (t) => {
  const { file, log, flush } = fileLogger(t);
  log.warn('going down');
  flush();
  t.same(lines(file).map((l) => l.msg), ['going down']);
});

t.test('a log that cannot be written: no exception, no hang at exit, bounded memory, reported', async (t) => {
  const sink = new LogSink('/dev/full');
  const line = `${JSON.stringify({ msg: 'x'.repeat(200) })}\n`;
  for (let i = 0; i < 100; i++) sink.write(line);
  await sleep(200);
  t.ok(sink.failures.errors > 0, 'ENOSPC counted, not thrown');
  const started = Date.now();
  sink.flushSync();
  t.ok(Date.now() - started < 1000, 'flushSync gives up at once (sonic-boom would retry forever)');
  for (let i = 0; i < 50_000; i++) sink.write(line); // ~10 MB: more than is kept
  t.ok(sink.failures.dropped > 0, 'beyond 8 MiB waiting, lines are dropped');
});

/** Both ends of a fresh FIFO, non-blocking; what is still open is closed at teardown. */
function fifoPair(t: Test): { reader: number; writer: number; closeReader(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'icd-log-'));
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const open = new Set<number>();
  const reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  open.add(reader);
  const writer = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  open.add(writer);
  // Tracked rather than closed twice: a closed fd's number may already belong to someone else.
  const close = (fd: number): void => {
    if (open.delete(fd)) fs.closeSync(fd);
  };
  t.teardown(() => {
    [...open].forEach(close);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { reader, writer, closeReader: () => close(reader) };
}

t.test('a reader that is slow, then catches up: every line arrives, in order', async (t) => {
  const { reader, writer } = fifoPair(t);
  const sink = new LogSink(writer);
  const n = 3000; // ~300 KB: more than the pipe holds, so writes meet EAGAIN
  for (let i = 0; i < n; i++) sink.write(`${JSON.stringify({ i, pad: 'y'.repeat(80) })}\n`);
  let text = '';
  const buf = Buffer.alloc(65536);
  for (let waited = 0; waited < 10_000 && text.split('\n').length <= n; waited += 20) {
    await sleep(20);
    for (;;) {
      let got = 0;
      try {
        got = fs.readSync(reader, buf, 0, buf.length, null);
      } catch {
        break; // EAGAIN: nothing more now
      }
      if (got <= 0) break;
      text += buf.toString('utf8', 0, got);
    }
  }
  const seen = text.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { i: number }).i);
  t.equal(seen.length, n);
  t.ok(seen.every((v, i) => v === i), 'in order, none twice');
  t.equal(sink.failures.errors, 0, 'EAGAIN is waiting, not a failure');
});

t.test('a closed reader (EPIPE) is a failure, not a crash', async (t) => {
  const { writer, closeReader } = fifoPair(t);
  closeReader();
  const sink = new LogSink(writer);
  sink.write('{"msg":"nobody reads this"}\n');
  await sleep(200);
  t.ok(sink.failures.errors > 0);
});
