// Init pids recorded for crun's exec'd processes (pid 0): a record names a process by
// pid and start time, so a dead or reused pid never matches.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { InitRecords } from '../src/oci/init-record.js';

t.test('remember, recall, forget', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'icd-inits-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const inits = new InitRecords(dir);
  inits.remember('c1', process.pid);
  t.equal(new InitRecords(dir).recall('c1'), process.pid, 'survives a new instance (a restarted daemon)');
  t.equal(inits.recall('c2'), 0, 'no record');
  inits.forget('c1', process.pid + 1);
  t.equal(inits.recall('c1'), process.pid, 'forget needs the recorded pid');
  inits.forget('c1', process.pid);
  t.equal(inits.recall('c1'), 0);

  fs.writeFileSync(path.join(dir, 'c3.json'), JSON.stringify({ pid: process.pid, start: '1' }));
  t.equal(inits.recall('c3'), 0, 'same pid, other start time: a reused pid');
  t.notOk(fs.existsSync(path.join(dir, 'c3.json')), 'the stale record is dropped');
  fs.writeFileSync(path.join(dir, 'c4.json'), 'garbage');
  t.equal(inits.recall('c4'), 0);
  inits.remember('../escape', process.pid);
  t.equal(inits.recall('../escape'), 0, 'ids that are not file names are not recorded');
  t.same(fs.readdirSync(path.dirname(dir)).filter((f) => f === 'escape.json'), []);
});
