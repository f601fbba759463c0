// systemd socket activation and readiness, without systemd: the real daemon gets a
// pre-bound SEQPACKET listener as fd 3 with LISTEN_PID/LISTEN_FDS, as interceptd.socket
// would pass it, and tells a stand-in $NOTIFY_SOCKET when it is ready.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { AF_UNIX, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_SEQPACKET, SOCK_STREAM, c } from '../native/libc.js';
import { MessageReceiver, closeFd, connectUnix, sendMessage, sockaddrUn } from '../native/unix-socket.js';
import { CLI } from './lib/daemon.js';

/** A bound, listening socket at `file`, blocking, as systemd creates it. */
function listener(file: string, type: number): number {
  const fd = c.socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  const { addr, len } = sockaddrUn(file);
  if (fd < 0 || c.bind(fd, addr, len) !== 0 || c.listen(fd, 16) !== 0) throw new Error(`cannot listen on ${file}`);
  fs.chmodSync(file, 0o600);
  return fd;
}

function datagramSocket(file: string): number {
  const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const { addr, len } = sockaddrUn(file);
  if (fd < 0 || c.bind(fd, addr, len) !== 0) throw new Error(`cannot bind ${file}`);
  return fd;
}

/** The next datagram on `fd` (an empty one reads as ''), or undefined after `timeoutMs`. */
async function receive(fd: number, timeoutMs: number): Promise<string | undefined> {
  const rx = new MessageReceiver(4096, 4);
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = rx.recv(fd);
    if (r.kind === 'message') {
      r.fds.forEach(closeFd);
      return rx.data.toString('latin1', 0, r.length);
    }
    if (r.kind === 'eof') return '';
    if (Date.now() > until) return undefined;
    await new Promise((res) => setTimeout(res, 10));
  }
}

interface Activated {
  readonly child: ChildProcess;
  readonly dir: string;
  readonly socket: string;
  readonly notify: number;
  output(): string;
  exited: Promise<number | null>;
}

/** `interceptd serve` as systemd starts it: fd 3 = `listenFd`, LISTEN_PID = its own pid. */
function activate(t: Test, type: number): Activated {
  // Short paths: sun_path holds 107 bytes.
  const dir = fs.mkdtempSync('/tmp/icd-sa-');
  const state = path.join(dir, 'state');
  fs.mkdirSync(state, { mode: 0o700 });
  fs.mkdirSync(path.join(dir, 'conf'));
  const socket = path.join(state, 'seccomp.socket');
  const listenFd = listener(socket, type);
  const notify = datagramSocket(path.join(dir, 'notify'));
  // $$ is the shell's pid, and exec keeps it: the daemon's pid is known before it runs.
  const child = spawn(
    'sh',
    ['-c', 'export LISTEN_PID=$$ LISTEN_FDS=1; exec "$0" "$@"', process.execPath, CLI, 'serve', '--state-dir', state, '--config-dir', path.join(dir, 'conf')],
    { stdio: ['ignore', 'pipe', 'pipe', listenFd], env: { ...process.env, NOTIFY_SOCKET: path.join(dir, 'notify') } },
  );
  closeFd(listenFd);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    closeFd(notify);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { child, dir, socket, notify, output: () => out, exited };
}

if (process.getuid?.() !== 0) {
  if (process.env.CI) t.fail('socket activation tests need root (serve runs as root)');
  else t.skip('socket activation tests need root (serve runs as root)', () => {});
} else {
  t.test('a SEQPACKET listener passed as fd 3 is served, READY=1 follows, and the path is left for systemd', async (t) => {
    const d = activate(t, SOCK_SEQPACKET);
    const inode = fs.statSync(d.socket).ino;
    t.equal(await receive(d.notify, 15000), 'READY=1', 'READY=1 on NOTIFY_SOCKET', { output: d.output() });
    // Logs are written asynchronously: READY=1 can come first.
    const until = Date.now() + 5000;
    while (!d.output().includes('liblxc proxy socket passed by systemd') && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    t.match(d.output(), /liblxc proxy socket passed by systemd/);
    t.equal(fs.statSync(d.socket).ino, inode, 'the daemon did not bind a socket of its own');

    const client = connectUnix(d.socket);
    t.teardown(() => closeFd(client));
    sendMessage(client, Buffer.from('short'));
    t.equal(await receive(client, 3000), '', 'a malformed message is answered with an empty datagram');
    t.equal(await receive(d.notify, 100), undefined, 'one READY only');

    d.child.kill('SIGTERM');
    t.equal(await d.exited, 0);
    t.ok(fs.statSync(d.socket).isSocket(), 'stopping leaves the socket file to systemd');
  });

  t.test('fd 3 that is not a SEQPACKET listener is refused before anything starts', async (t) => {
    const d = activate(t, SOCK_STREAM);
    t.equal(await d.exited, 1);
    t.match(d.output(), /fd 3 passed by systemd \(LISTEN_FDS\) is not a listening AF_UNIX SOCK_SEQPACKET socket/);
    t.equal(await receive(d.notify, 100), undefined, 'no READY=1');
  });
}
