// The liblxc proxy server against a fake liblxc peer: real SEQPACKET sockets and
// real SCM_RIGHTS fds, a fake handler where the test needs to control timing.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { CONTINUE, OK, type Answer } from '../protocol/answer.js';
import { EMPTY_POLICY } from '../compat/keys.js';
import type { PolicySource } from '../compat/policy-source.js';
import { MessageReceiver, closeFd, connectUnix, sendMessage } from '../native/unix-socket.js';
import { silentLogger } from '../src/core/log.js';
import { Dispatcher } from '../src/dispatch.js';
import { defaultRegistry, type Registry } from '../src/handlers/registry.js';
import type { Handler, Services } from '../src/handlers/types.js';
import { LiblxcServer } from '../src/liblxc/server.js';
import { HelperClient } from '../native/helper.js';
import { KERNEL_SIZES } from '../protocol/proxy-message.js';
import { allVectors } from './lib/vectors.js';

const isRoot = process.getuid?.() === 0;
const vectors = new Map(allVectors().filter((v) => v.mode === 'eperm').map((v) => [v.syscall, v.request]));

/** Open fds of this process that point at what peerFds() sends: others come and go under tap. */
function openFds(): number {
  const ours = new Set([fs.realpathSync('/proc/self'), `${fs.realpathSync('/proc/self')}/mem`, '/dev/null']);
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (ours.has(fs.readlinkSync(`/proc/self/fd/${fd}`))) n++;
    } catch {
      // closed while we looked
    }
  }
  return n;
}

/** Three real fds, as liblxc sends them: a /proc dir, a mem file, a "listener" stand-in. */
function peerFds(): number[] {
  return [fs.openSync('/proc/self', 'r'), fs.openSync('/proc/self/mem', 'r'), fs.openSync('/dev/null', 'r')];
}

async function recvReply(fd: number, timeoutMs = 3000): Promise<Buffer | 'none'> {
  const rx = new MessageReceiver(4096, 4);
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = rx.recv(fd);
    if (r.kind === 'message') return Buffer.from(rx.data.subarray(0, r.length));
    if (r.kind === 'eof') return Buffer.alloc(0); // an empty datagram reads like EOF
    if (Date.now() > until) return 'none';
    await new Promise((res) => setTimeout(res, 5));
  }
}

function setup(t: Test, handlers: Partial<Registry>, deadlineMs = 2000) {
  // Short path: sun_path holds 107 bytes.
  const dir = fs.mkdtempSync('/tmp/icd-srv-');
  const socketPath = path.join(dir, 'seccomp.socket');
  const policies: PolicySource = { lookup: () => ({ ...EMPTY_POLICY, mknod: true }), close: () => {} };
  const log = silentLogger();
  const helper = new HelperClient({ deviceDir: path.join(dir, 'dev'), log });
  const services: Services = { helper, kernel: { unprivilegedWhiteouts: true, addfdSend: true } };
  const dispatcher = new Dispatcher({ ...defaultRegistry(), ...handlers }, policies, services, deadlineMs, log);
  const server = new LiblxcServer({ socketPath, dispatcher, kernelSizes: KERNEL_SIZES, log });
  server.listen();
  const client = connectUnix(socketPath);
  t.teardown(() => {
    closeFd(client);
    server.close();
    helper.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { server, client, socketPath, dispatcher };
}

function fixed(answer: Answer, delayMs = 0): Handler {
  return {
    syscalls: [],
    handle: () => (delayMs === 0 ? answer : new Promise((r) => setTimeout(() => r(answer), delayMs))),
  };
}


if (!isRoot) {
  t.comment('liblxc server tests need root (peers must be uid 0)');
  t.skip('liblxc server tests need root', () => {});
} else {
  t.test('a valid request gets exactly one 136-byte reply and every fd is closed', async (t) => {
    const { client } = setup(t, { setxattr: fixed(OK) });
    await new Promise((r) => setTimeout(r, 20));
    const before = openFds();
    const fds = peerFds();
    sendMessage(client, vectors.get('setxattr')!, fds);
    fds.forEach(closeFd);
    const reply = await recvReply(client);
    if (reply === 'none') return t.fail('no reply');
    t.equal(reply.length, 136);
    t.ok(reply.subarray(0, 0x70).equals(vectors.get('setxattr')!.subarray(0, 0x70)), 'header and notif echoed');
    t.equal(reply.readInt32LE(0x80), 0);
    t.equal(reply.readUInt32LE(0x84), 0);
    t.equal(await recvReply(client, 200), 'none', 'no second reply');
    await new Promise((r) => setTimeout(r, 20));
    t.equal(openFds(), before, 'the three received fds were closed');
  });

  t.test('unknown syscalls continue', async (t) => {
    const { client } = setup(t, {});
    const msg = Buffer.from(vectors.get('sysinfo')!);
    msg.writeInt32LE(9999, 0x30);
    const fds = peerFds();
    sendMessage(client, msg, fds);
    fds.forEach(closeFd);
    const reply = await recvReply(client);
    if (reply === 'none') return t.fail('no reply');
    t.equal(reply.readUInt32LE(0x84), 1, 'CONTINUE');
  });

  t.test('malformed messages get an empty reply and the connection keeps working', async (t) => {
    const { client } = setup(t, { setxattr: fixed(OK) });
    const bad: Buffer[] = [Buffer.from('short'), Buffer.alloc(136), Buffer.alloc(5000, 1)];
    const sizes = Buffer.from(vectors.get('setxattr')!);
    sizes.writeUInt16LE(81, 16);
    bad.push(sizes);
    for (const msg of bad) {
      const fds = peerFds();
      sendMessage(client, msg, fds);
      fds.forEach(closeFd);
      const reply = await recvReply(client);
      t.same(reply, Buffer.alloc(0), `${msg.length}-byte message → empty reply`);
    }
    sendMessage(client, vectors.get('setxattr')!);
    t.same(await recvReply(client), Buffer.alloc(0), 'a message without fds → empty reply');
    const fds = peerFds();
    sendMessage(client, vectors.get('setxattr')!, fds);
    fds.forEach(closeFd);
    const reply = await recvReply(client);
    t.equal(reply === 'none' ? 0 : reply.length, 136, 'then a valid request is served');
  });

  t.test('a handler that outlives the deadline is answered CONTINUE once, in time', async (t) => {
    const { client, dispatcher } = setup(t, { setxattr: fixed(OK, 600) }, 100);
    const fds = peerFds();
    const started = Date.now();
    sendMessage(client, vectors.get('setxattr')!, fds);
    fds.forEach(closeFd);
    const reply = await recvReply(client);
    if (reply === 'none') return t.fail('no reply');
    t.equal(reply.readUInt32LE(0x84), 1, 'CONTINUE');
    t.ok(Date.now() - started < 590, 'answered before the handler finished');
    t.equal(await recvReply(client, 800), 'none', 'the late result is never sent');
    t.equal(dispatcher.stats.bySyscall.get('setxattr')?.deadline, 1);
  });

  t.test('a handler that throws is answered CONTINUE', async (t) => {
    const throwing: Handler = {
      syscalls: [],
      handle: () => {
        throw new Error('boom');
      },
    };
    const rejecting: Handler = { syscalls: [], handle: () => Promise.reject(new Error('boom')) };
    const { client } = setup(t, { setxattr: throwing, sysinfo: rejecting });
    for (const name of ['setxattr', 'sysinfo']) {
      const fds = peerFds();
      sendMessage(client, vectors.get(name)!, fds);
      fds.forEach(closeFd);
      const reply = await recvReply(client);
      if (reply === 'none') return t.fail('no reply');
      t.equal(reply.readUInt32LE(0x84), 1, `${name}: CONTINUE`);
    }
  });

  t.test('requests on one connection are served one at a time, in order', async (t) => {
    const { client } = setup(t, { setxattr: fixed(OK, 50), sysinfo: fixed(CONTINUE) });
    for (const name of ['setxattr', 'sysinfo']) {
      const fds = peerFds();
      sendMessage(client, vectors.get(name)!, fds);
      fds.forEach(closeFd);
    }
    const first = await recvReply(client);
    const second = await recvReply(client);
    if (first === 'none' || second === 'none') return t.fail('missing reply');
    t.equal(first.readInt32LE(0x30), 188, 'setxattr answered first');
    t.equal(second.readInt32LE(0x30), 99, 'then sysinfo');
  });

  t.test('a peer that is not root is refused', async (t) => {
    const { socketPath } = setup(t, {});
    fs.chmodSync(path.dirname(socketPath), 0o755);
    fs.chmodSync(socketPath, 0o777);
    const py = [
      'import socket, sys',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)',
      's.connect(sys.argv[1])',
      's.settimeout(2)',
      'try:',
      '  s.send(b"x" * 136)',
      '  d = s.recv(200)',
      '  print("closed" if d == b"" else "reply")',
      'except Exception as e:',
      '  print("closed")',
    ].join('\n');
    const r = spawnSync('python3', ['-c', py, socketPath], { uid: 65534, gid: 65534, encoding: 'utf8' });
    t.equal(r.stdout.trim(), 'closed', r.stderr);
  });
}
