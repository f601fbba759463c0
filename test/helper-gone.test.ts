// The helper tells a request that is no longer pending (its caller killed, or its call
// interrupted by a signal) from a real failure of the action: the client rejects the
// first with ICD_TARGET_GONE, so it is never reported as the call's answer or audited as
// an action. The real helper, and a real seccomp request from test/fixtures/pending-call.py.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { HelperClient } from '../native/helper.js';
import { POLLIN, readyNow } from '../native/poll.js';
import { notifRecv, notifSend, notifSyncWakeUp } from '../native/seccomp.js';
import { MessageReceiver, closeFd, socketPair } from '../native/unix-socket.js';
import { CONTINUE } from '../protocol/answer.js';
import { AT_FDCWD, S_IFCHR, SECCOMP_NOTIF_RESP_SIZE, SECCOMP_NOTIF_SIZE } from '../protocol/constants.js';
import type { MknodRequest } from '../protocol/helper-wire.js';
import { CAP_MKNOD, capBit } from '../protocol/proc-status.js';
import { decodeNotification, encodeResponse } from '../protocol/seccomp.js';
import { silentLogger } from '../src/core/log.js';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'pending-call.py');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, f: () => T | undefined): Promise<T> {
  const end = Date.now() + 10_000;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

if (process.getuid?.() !== 0) {
  t.comment('the helper needs root');
  t.skip('helper tests need root', () => {});
} else {
  t.test('a request no longer pending is rejected as ICD_TARGET_GONE; a real failure is an errno', async (t) => {
    const dir = fs.mkdtempSync('/tmp/icd-gone-');
    const helper = new HelperClient({ deviceDir: path.join(dir, 'dev'), log: silentLogger() });
    const [mine, theirs] = socketPair();
    const child = spawn('python3', [FIXTURE], { stdio: ['ignore', 'pipe', 'inherit', theirs] });
    closeFd(theirs);
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    const fds: number[] = [mine];
    t.teardown(async () => {
      child.kill('SIGKILL');
      await exited;
      fds.forEach(closeFd);
      helper.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    const rx = new MessageReceiver(16, 1);
    const listener = await until('the listener', () => {
      const got = rx.recv(mine);
      return got.kind === 'message' ? got.fds[0] : undefined;
    });
    fds.push(listener);
    // The OCI agent sets SYNC_WAKE_UP on the listeners it owns (Linux >= 6.6).
    const [major = 0, minor = 0] = os.release().split('.').map(Number);
    if (major > 6 || (major === 6 && minor >= 6)) t.equal(notifSyncWakeUp(listener), 0, 'SYNC_WAKE_UP accepted on a real listener');
    t.equal(notifSyncWakeUp(mine), 25, 'and refused (ENOTTY) on another fd');
    await until('the pending sysinfo call', () => ((readyNow(listener) & POLLIN) !== 0 ? true : undefined));
    const buf = Buffer.alloc(SECCOMP_NOTIF_SIZE);
    t.equal(notifRecv(listener, buf), 0, 'received');
    const notif = decodeNotification(buf, 0);
    const procFd = fs.openSync(`/proc/${notif.pid}`, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    fds.push(procFd);

    const req = (file: string): MknodRequest => ({
      tid: notif.pid,
      umask: 0o022,
      fsuid: 0,
      fsgid: 0,
      caps: capBit(CAP_MKNOD),
      groups: [],
      dirfd: AT_FDCWD,
      mode: S_IFCHR | 0o666,
      dev: 0x103, // 1:3
      path: Buffer.from(path.join(dir, file)),
    });
    const mknod = (id: bigint, file: string) => helper.mknod(id, req(file), procFd, listener, 5000);

    const failed = await mknod(notif.id, 'missing/node');
    t.equal(failed.errno, 2, 'a pending request whose parent directory is missing: ENOENT, an answer');
    t.equal(failed.flags, 0, 'not flagged');

    await t.rejects(mknod(notif.id + 1000n, 'never'), { code: 'ICD_TARGET_GONE' }, 'an id that is not pending: gone');
    t.notOk(fs.existsSync(path.join(dir, 'never')), 'and nothing made');

    const made = await mknod(notif.id, 'made');
    t.equal(made.errno, 0, 'the pending request: made');
    t.ok(fs.lstatSync(path.join(dir, 'made')).isCharacterDevice(), 'as a character device');

    // Answered: the caller's call returns (sysinfo(NULL) continues to the kernel's EFAULT) and it exits.
    const resp = Buffer.alloc(SECCOMP_NOTIF_RESP_SIZE);
    encodeResponse(resp, 0, notif.id, CONTINUE);
    t.equal(notifSend(listener, resp), 0, 'answered');
    await exited;
    t.match(out, /"errno": 14/, `the caller's result: ${out.trim()}`);

    await t.rejects(mknod(notif.id, 'late'), { code: 'ICD_TARGET_GONE' }, 'the same id once its caller is gone: gone');
    t.notOk(fs.existsSync(path.join(dir, 'late')), 'and nothing made');
  });
}
