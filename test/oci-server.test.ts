// The OCI agent socket against fake runtimes: real SOCK_STREAM connections, real
// SCM_RIGHTS fds and, from test/fixtures/fake-runtime.py, a real seccomp listener.
// Every refused message is logged with its code and leaks no fd.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { value, type Answer } from '../protocol/answer.js';
import { EMPTY_POLICY } from '../compat/keys.js';
import { OverridePolicySource } from '../compat/policy-source.js';
import { SOCK_STREAM } from '../native/libc.js';
import { HelperClient } from '../native/helper.js';
import { closeFd, connectUnix, sendMessage } from '../native/unix-socket.js';
import { Dispatcher } from '../src/dispatch.js';
import { defaultRegistry, type Registry } from '../src/handlers/registry.js';
import type { Handler } from '../src/handlers/types.js';
import { OciServer } from '../src/oci/server.js';

const isRoot = process.getuid?.() === 0;
const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const state = fs.readFileSync(path.join(FIXTURES, 'oci-state', 'runc-1.1.5-create.json'));


const openFds = (): number => fs.readdirSync('/proc/self/fd').length;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function fixed(answer: Answer, delayMs: number): Handler {
  return { syscalls: [], handle: () => new Promise((r) => setTimeout(() => r(answer), delayMs)) };
}

/** Runs the fake runtime; resolves with its sysinfo results [ret, errno, ms] per thread. */
function fakeRuntime(socketPath: string, id: string, threads: number, extra: string[] = []): Promise<number[][]> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [path.join(FIXTURES, 'fake-runtime.py'), socketPath, id, String(threads), ...extra]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      try {
        resolve((JSON.parse(out) as { results: number[][] }).results);
      } catch {
        reject(new Error(`fake runtime failed (${status}): ${out}${err}`));
      }
    });
  });
}

function setup(t: Test, handlers: Partial<Registry> = {}) {
  const dir = fs.mkdtempSync('/tmp/icd-oci-');
  const socketPath = path.join(dir, 'oci.socket');
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  const helper = new HelperClient({ deviceDir: path.join(dir, 'dev'), log });
  const policies = new OverridePolicySource({ lookup: () => EMPTY_POLICY, close: () => {} });
  const dispatcher = new Dispatcher({ ...defaultRegistry(), ...handlers }, policies, { helper, kernel: { unprivilegedWhiteouts: true, addfdSend: true } }, 2000, log);
  const server = new OciServer({ socketPath, dispatcher, policies, log, readTimeoutMs: 300 });
  server.listen();
  t.teardown(() => {
    server.close();
    helper.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  /** Sends each part in its own sendmsg (fds with the part at the same index), then closes unless told not to. */
  const send = async (parts: Buffer[], fdsPerPart: number[][] = [], keepOpen = false): Promise<number> => {
    const fd = connectUnix(socketPath, SOCK_STREAM);
    for (const [i, part] of parts.entries()) {
      try {
        sendMessage(fd, part, fdsPerPart[i] ?? []);
      } catch {
        // the server may already have refused and closed
      }
      await sleep(20);
    }
    if (!keepOpen) closeFd(fd);
    return fd;
  };
  /** Waits for the next refusal line and returns its code. */
  const refusal = async (from: number): Promise<string | undefined> => {
    for (let i = 0; i < 100; i++) {
      const hit = lines.slice(from).find((l) => String(l.msg).includes('refused'));
      if (hit !== undefined) return hit.code as string;
      await sleep(10);
    }
    return undefined;
  };
  return { server, lines, send, refusal, socketPath };
}

const devNull = (): number => fs.openSync('/dev/null', 'r');

if (!isRoot) {
  t.comment('OCI server tests need root (peers must be uid 0)');
  t.skip('OCI server tests need root', () => {});
} else {
  t.test('every malformed state is refused with its code, and no fd leaks', async (t) => {
    const { lines, send, refusal, server } = setup(t);
    await sleep(20);
    const before = openFds();
    const cases: [string, () => Promise<unknown>, string][] = [
      ['not JSON', () => send([Buffer.from('{not json')], [[devNull()]]), 'ICD_OCI_JSON'],
      ['truncated', () => send([state.subarray(0, 100)], [[devNull()]]), 'ICD_OCI_JSON'],
      ['without fds', () => send([state]), 'ICD_OCI_FDS'],
      ['seccompFd is not a listener', () => send([state], [[devNull()]]), 'ICD_OCI_LISTENER'],
      ['split over three writes, fd in the first', () => send([state.subarray(0, 50), state.subarray(50, 200), state.subarray(200)], [[devNull()]]), 'ICD_OCI_LISTENER'],
      ['fds in a later write', () => send([state.subarray(0, 50), state.subarray(50)], [[devNull()], [devNull()]]), 'ICD_OCI_FDS'],
      ['two fds, one name', () => send([state], [[devNull(), devNull()]]), 'ICD_OCI_FDS'],
      ['oversized', () => send([Buffer.alloc(70 * 1024, 0x20)], [[devNull()]]), 'ICD_OCI_SIZE'],
      ['never finished', () => send([state.subarray(0, 100)], [[devNull()]], true), 'ICD_OCI_TIMEOUT'],
    ];
    const opened: number[] = [];
    for (const [name, run, code] of cases) {
      const from = lines.length;
      const r = await run();
      if (name === 'never finished') opened.push(r as number);
      t.equal(await refusal(from), code, name);
    }
    opened.forEach(closeFd);
    // The test's own copies of the sent fds are closed here; the server closed its copies.
    for (const fd of fs.readdirSync('/proc/self/fd').map(Number)) {
      try {
        if (fs.readlinkSync(`/proc/self/fd/${fd}`) === '/dev/null' && fd > 2) closeFd(fd);
      } catch {
        // the readdir fd itself
      }
    }
    await sleep(50);
    t.ok(openFds() <= before, `no fd left open (${openFds()} vs ${before})`);
    t.equal(server.listenerCount, 0);
  });

  t.test('a real listener: concurrent calls answered in parallel, closed when the process exits', async (t) => {
    const { server, socketPath, lines } = setup(t, { sysinfo: fixed(value(7), 300) });
    await sleep(20);
    const before = openFds();
    const results = await fakeRuntime(socketPath, 'fake-1', 4);
    t.same(results.map(([ret, e]) => [ret, e]), [[7, 0], [7, 0], [7, 0], [7, 0]], 'every thread got the answer');
    const slowest = Math.max(...results.map(([, , ms]) => ms!));
    t.ok(slowest < 2 * 300, `answered in parallel: the slowest call took ${slowest} ms, one answer takes 300`);
    t.ok(lines.some((l) => l.msg === 'OCI listener attached' && l.container === 'fake-1' && l.initPid !== undefined));
    for (let i = 0; i < 50 && server.listenerCount > 0; i++) await sleep(10);
    t.equal(server.listenerCount, 0, 'hang-up closed the listener');
    t.ok(lines.some((l) => l.msg === 'OCI listener closing' && l.reason === 'the last task using the filter exited'));
    await sleep(20);
    t.ok(openFds() <= before, 'no fd left open');
  });

  t.test('a second state on the same connection is refused; the first stays served', async (t) => {
    const { socketPath, lines } = setup(t, { sysinfo: fixed(value(9), 10) });
    const results = await fakeRuntime(socketPath, 'fake-2', 1, ['second']);
    t.same(results.map(([ret]) => ret), [9]);
    const refused = lines.find((l) => l.msg === 'data after the OCI state refused');
    t.match(refused, { code: 'ICD_OCI_JSON' });
  });

  t.test('a peer that is not root is refused', async (t) => {
    const { socketPath, lines } = setup(t);
    fs.chmodSync(path.dirname(socketPath), 0o755);
    fs.chmodSync(socketPath, 0o777);
    const py = 'import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_STREAM)\ns.connect(sys.argv[1])\ns.send(b"{}")\n';
    spawnSync('python3', ['-c', py, socketPath], { uid: 65534, gid: 65534 });
    await sleep(100);
    t.ok(lines.some((l) => l.msg === 'peer is not root; connection refused'));
  });
}
