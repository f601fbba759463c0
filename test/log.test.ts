// The daemon's log gathers lines and writes them in batches, yet never holds one back:
// a line is written within FLUSH_MS even if nothing else is logged after it.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { createLogger } from '../src/core/log.js';

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
