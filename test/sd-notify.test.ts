// systemd integration without systemd: READY=1 reaches a datagram socket standing in for
// $NOTIFY_SOCKET, and the LISTEN_* variables are read the way sd_listen_fds(3) reads them.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { AF_UNIX, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, c } from '../native/libc.js';
import { listenFdFromEnv, inheritedListener } from '../native/sd-listen.js';
import { sdNotify } from '../native/sd-notify.js';
import { MessageReceiver, closeFd, sockaddrUn } from '../native/unix-socket.js';

/** A bound, non-blocking datagram socket at `address` (a path, or '@name' for an abstract one). */
function fakeSystemd(t: Test, address: string): { next(): string | undefined } {
  const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const { addr, len } = sockaddrUn(address);
  if (fd < 0 || c.bind(fd, addr, len) !== 0) throw new Error(`cannot bind ${address}`);
  t.teardown(() => closeFd(fd));
  const rx = new MessageReceiver(4096, 1);
  return {
    next: () => {
      const r = rx.recv(fd);
      return r.kind === 'message' ? rx.data.toString('utf8', 0, r.length) : undefined;
    },
  };
}


t.test('READY=1 arrives at a filesystem NOTIFY_SOCKET', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'icd-notify-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const socket = path.join(dir, 'notify');
  const systemd = fakeSystemd(t, socket);
  t.equal(sdNotify('READY=1', { NOTIFY_SOCKET: socket }), true);
  t.equal(systemd.next(), 'READY=1');
  t.equal(systemd.next(), undefined, 'exactly one datagram');
});

t.test("READY=1 arrives at an abstract NOTIFY_SOCKET ('@')", async (t) => {
  const name = `@interceptd-test-${process.pid}-${Date.now()}`;
  const systemd = fakeSystemd(t, name);
  t.equal(sdNotify('READY=1\nSTATUS=serving', { NOTIFY_SOCKET: name }), true);
  t.equal(systemd.next(), 'READY=1\nSTATUS=serving');
});

t.test('without a unix NOTIFY_SOCKET there is nobody to tell', async (t) => {
  t.equal(sdNotify('READY=1', {}), false);
  t.equal(sdNotify('READY=1', { NOTIFY_SOCKET: 'vsock:2:1234' }), false);
});

t.test('a NOTIFY_SOCKET nobody listens on is an error', async (t) => {
  t.throws(() => sdNotify('READY=1', { NOTIFY_SOCKET: path.join(os.tmpdir(), `icd-nobody-${process.pid}`) }), { code: 'ENOENT' });
});

t.test('LISTEN_PID must name this very process, LISTEN_FDS must be ≥ 1', async (t) => {
  t.equal(listenFdFromEnv({ LISTEN_PID: '42', LISTEN_FDS: '1' }, 42), 3);
  t.equal(listenFdFromEnv({ LISTEN_PID: '42', LISTEN_FDS: '2' }, 42), 3, 'the first fd is the liblxc listener');
  t.equal(listenFdFromEnv({ LISTEN_PID: '43', LISTEN_FDS: '1' }, 42), undefined, 'meant for another process');
  t.equal(listenFdFromEnv({ LISTEN_PID: '42', LISTEN_FDS: '0' }, 42), undefined);
  t.equal(listenFdFromEnv({ LISTEN_PID: '42', LISTEN_FDS: 'x' }, 42), undefined);
  t.equal(listenFdFromEnv({ LISTEN_FDS: '1' }, 42), undefined);
  t.equal(listenFdFromEnv({}, 42), undefined);
});

t.test('the LISTEN_* variables are removed either way, so no child claims the fd', async (t) => {
  const env: NodeJS.ProcessEnv = { LISTEN_PID: '1', LISTEN_FDS: '1', LISTEN_FDNAMES: 'interceptd.socket', PATH: '/bin' };
  t.equal(inheritedListener(env, 42), undefined);
  t.same(env, { PATH: '/bin' });
});
