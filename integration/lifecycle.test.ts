// Issue 7, "never lose a syscall": a caller killed, interrupted by a signal, or replaced
// by another process with its pid, while interceptd holds its request. Real unprivileged
// LXC containers; every kill and signal comes from the host, by the caller's host pid.
//
// liblxc's monitor is strictly serial: while it waits for interceptd's reply it serves
// nothing else, not lxc-info, not a new lxc-attach (which must register its seccomp
// listener with it). So nothing can be run inside the container while a request is held
// (a `pidof` attached then runs only once the held call is over), and the caller is found
// and signalled from the host side instead.
//
// A request is held at a known point by stopping a process with SIGSTOP:
// - the helper: the daemon has read the arguments and checked ID_VALID, and the request
//   waits in the helper's socket, before the helper opens anything of the caller's;
// - the daemon itself: the request waits in the proxy socket, unread.
// A pid is reused deterministically with clone3(set_tid) (probe impostor, run as host
// root): the same host pid and, for a process inside the container, the same pid there.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { controlRequest } from '../src/control.js';
import { buildProbe, TEST_ROOT, type AttachResult } from './lib/lxc.js';
import { requireContainers, startScenario, type ProbeResult, type Scenario } from './lib/scenario.js';

const I = 'security.syscalls.intercept.';
const SYS_MKNOD = 133; // x86_64
const SYS_MOUNT = 165;
const SIGUSR1_BIT = 1n << 9n;
/** No request held here reaches it (liblxc itself gives up at 30 s). */
const DEADLINE_MS = 20_000;
const HOST_DIR = path.join(TEST_ROOT, 'lifecycle-host');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function readOr(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch {
    return undefined;
  }
}

function pidNs(pid: number): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

/** Host pids of the processes in pid namespace `ns` whose command line contains `needle`. */
function processesIn(ns: string, needle: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if (readOr(`/proc/${entry}/cmdline`)?.includes(needle) && pidNs(Number(entry)) === ns) found.push(Number(entry));
  }
  return found;
}

/** Blocked in syscall `nr`: for an intercepted call, parked by seccomp. */
function inSyscall(pid: number, nr: number): boolean {
  return readOr(`/proc/${pid}/syscall`)?.startsWith(`${nr} `) ?? false;
}

function statusField(pid: number, field: string): string | undefined {
  return readOr(`/proc/${pid}/status`)?.match(new RegExp(`^${field}:\\s*(.*)$`, 'm'))?.[1];
}

/** R, S, T, Z… from /proc/<pid>/stat. */
function taskState(pid: number): string | undefined {
  const stat = readOr(`/proc/${pid}/stat`);
  return stat === undefined ? undefined : stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

function signalPending(pid: number, bit: bigint): boolean {
  return ['SigPnd', 'ShdPnd'].some((f) => (BigInt(`0x${statusField(pid, f) ?? '0'}`) & bit) !== 0n);
}

function cont(pid: number): void {
  try {
    process.kill(pid, 'SIGCONT');
  } catch {
    // gone already
  }
}

/** Exited and reaped: a zombie still holds its pid. */
function reaped(pid: number): boolean {
  return !fs.existsSync(`/proc/${pid}`);
}

/** Bytes waiting in the receive queues of `pid`'s unix sockets (ss reads them with sock_diag). */
function queuedBytes(pid: number): number {
  const out = spawnSync('ss', ['-x', '-a', '-H', '-p'], { encoding: 'utf8' }).stdout ?? '';
  let n = 0;
  for (const line of out.split('\n')) {
    if (!line.includes(`pid=${pid},`)) continue;
    const q = Number(line.trim().split(/\s+/)[2]);
    if (Number.isFinite(q)) n += q;
  }
  return n;
}

function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** The fd count once it has not changed for a while (start-up and control connections come and go). */
async function restingFds(pid: number): Promise<number> {
  let n = fdCount(pid);
  for (let same = 0; same < 6; ) {
    await sleep(50);
    const now = fdCount(pid);
    if (now === n) same++;
    else [n, same] = [now, 0];
  }
  return n;
}

/** The daemon's helper processes (the pool starts one at start-up; a serial monitor never needs a second). */
function helperPids(daemonPid: number): number[] {
  return fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number).filter((p) => {
    const stat = readOr(`/proc/${p}/stat`);
    if (stat === undefined) return false;
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return ppid === daemonPid && readOr(`/proc/${p}/comm`)?.trim() === 'interceptd-help';
  });
}

function lastJson(out: string): ProbeResult | undefined {
  try {
    return JSON.parse(out.trim().split('\n').pop() ?? '') as ProbeResult;
  } catch {
    return undefined;
  }
}

type Counts = Record<'continue' | 'errno' | 'emulated' | 'failure' | 'deadline', number>;

/** What `interceptd status` counts: requests in all, and per outcome for `syscall`. */
async function stats(s: Scenario, syscall: string): Promise<{ total: number; counts: Counts }> {
  const st = (await controlRequest(s.daemon.stateDir, { cmd: 'status' })) as unknown as {
    requests: number;
    syscalls: Record<string, Counts>;
  };
  return { total: st.requests, counts: st.syscalls[syscall] ?? { continue: 0, errno: 0, emulated: 0, failure: 0, deadline: 0 } };
}

async function mknodStats(s: Scenario): Promise<{ total: number; mknod: Counts }> {
  const st = await stats(s, 'mknod');
  return { total: st.total, mknod: st.counts };
}

function diff(a: Counts, b: Counts): Partial<Counts> {
  const out: Partial<Counts> = {};
  for (const k of Object.keys(b) as (keyof Counts)[]) if (b[k] !== a[k]) out[k] = b[k] - a[k];
  return out;
}

if (requireContainers(t)) {
  let s: Scenario;
  let probeBin: string;
  // lxc-info asks the monitor, which answers nothing while a request is held: ask once.
  let initPid: number;
  let containerNs: string;
  t.before(async () => {
    s = await startScenario(
      'itest-lifecycle',
      [`${I}mknod=true`, `${I}mount=true`, `${I}mount.fuse=ext4=hang-fuse`],
      { daemonArgs: ['--deadline-ms', String(DEADLINE_MS)] },
    );
    // A "FUSE program" that never finishes mounting (as in deadline.test.ts).
    fs.writeFileSync(s.container.hostPath('/bin/hang-fuse'), '#!/bin/sh\nexec /bin/probe pause\n', { mode: 0o755 });
    fs.chownSync(s.container.hostPath('/bin/hang-fuse'), 100000, 100000);
    s.run(['mkdir', '-p', '/tmp/lc', '/tmp/lc-victim', '/tmp/lc-impostor', '/mnt/lc']);
    probeBin = buildProbe(path.join(TEST_ROOT, 'bin'));
    initPid = s.container.initPid();
    containerNs = pidNs(initPid)!;
    fs.rmSync(HOST_DIR, { recursive: true, force: true });
    fs.mkdirSync(HOST_DIR, { recursive: true });
    // Start the helper and settle the daemon before the first fd count.
    const warm = s.probe(['mknod', '/tmp/lc/warm-up', 'c', '1', '3']);
    if (warm.ret !== 0) throw new Error(`warm-up mknod failed: ${JSON.stringify(warm)}`);
  });
  t.teardown(async () => {
    // Nothing left stopped by a test that failed half-way.
    if (s !== undefined && s.daemon.child.exitCode === null) {
      for (const p of [s.daemon.child.pid!, ...helperPids(s.daemon.child.pid!)]) cont(p);
    }
    await s?.teardown();
    fs.rmSync(HOST_DIR, { recursive: true, force: true });
  });

  const daemonPid = (): number => s.daemon.child.pid!;
  /** Where the next test's log lines start, once the last ones are in (probe() blocks the event loop that reads them). */
  async function logMark(): Promise<number> {
    let n = s.daemon.logs.length;
    for (let quiet = 0; quiet < 5; ) {
      await sleep(60);
      if (s.daemon.logs.length === n) quiet++;
      else [n, quiet] = [s.daemon.logs.length, 0];
    }
    return n;
  }
  const logsFrom = (mark: number): Record<string, unknown>[] => s.daemon.logs.slice(mark);
  const loud = (mark: number): Record<string, unknown>[] => logsFrom(mark).filter((l) => Number(l.level) >= 40);
  const goneFor = (mark: number, pid: number): Record<string, unknown>[] =>
    logsFrom(mark).filter((l) => l.msg === 'caller gone; answering continue' && l.pid === pid);
  /** liblxc's NOTIF_SEND of an answer failed with ENOENT: the request it answered was void. */
  const voidAnswers = (): number =>
    (readOr(s.container.logFile) ?? '').split('No such file or directory - Failed to send seccomp notification').length - 1;
  async function expectVoidAnswers(t: Test, from: number, n: number): Promise<void> {
    const now = await waitFor(`${n} void answer(s) in lxc.log`, () => (voidAnswers() - from >= n ? voidAnswers() : undefined)).catch(() => voidAnswers());
    t.equal(now - from, n, `liblxc's NOTIF_SEND got ENOENT ${n} time(s)`);
  }
  const exists = (p: string): boolean => {
    try {
      fs.lstatSync(s.container.hostPath(p));
      return true;
    } catch {
      return false;
    }
  };

  /** What every test ends with: the daemon alive, in step with liblxc, and holding no more fds than before. */
  async function stillSound(t: Test, fdsBefore: number, tag: string): Promise<void> {
    t.equal(s.daemon.child.exitCode, null, 'the daemon is still running');
    // The same monitor connection answers the next calls right: a second reply to the
    // held request would have been taken as the answer to the first of these.
    t.match(s.probe(['mknod', `/tmp/lc/${tag}-denied`, 'b', '8', '0']), { ret: -1, err: 'EPERM' }, 'next call declined: the kernel says EPERM');
    t.match(s.probe(['mknod', `/tmp/lc/${tag}-next`, 'c', '1', '3']), { ret: 0 }, 'next call emulated');
    t.match(s.probe(['stat', `/tmp/lc/${tag}-next`]), { type: 'c', major: 1, minor: 3 }, 'and its node is right');
    t.notMatch(s.container.logTail(400), /invalid id/, 'liblxc never saw a reply for another request');
    const now = await restingFds(daemonPid());
    t.equal(now, fdsBefore, `daemon fds: ${fdsBefore} before, ${now} after`);
  }

  /**
   * A test whose one request becomes void: the daemon's resting fds, its counts and a log
   * mark before `body`; after it, exactly one void answer in liblxc's log, and stillSound.
   */
  async function oneVoidRequest(
    t: Test,
    tag: string,
    body: (at: { before: Awaited<ReturnType<typeof mknodStats>>; mark: number }) => Promise<void>,
  ): Promise<void> {
    const fds = await restingFds(daemonPid());
    const before = await mknodStats(s);
    const mark = await logMark();
    const voids = voidAnswers();
    await body({ before, mark });
    await expectVoidAnswers(t, voids, 1);
    await stillSound(t, fds, tag);
  }

  /**
   * Runs argv in the container until its call is parked in syscall `nr`; once more if
   * lxc-attach ran it without its seccomp listener (the liblxc flake of Scenario.probe).
   */
  async function startParked(argv: string[], needle: string, nr: number, cwd?: string): Promise<{ caller: number; done: Promise<AttachResult> }> {
    for (let attempt = 1; ; attempt++) {
      let finished: AttachResult | undefined;
      const done = s.container.attachAsync(argv, { timeoutMs: 60_000, ...(cwd === undefined ? {} : { cwd }) }).then((r) => (finished = r));
      const caller = await waitFor(`the caller parked in syscall ${nr}`, () =>
        finished !== undefined ? -1 : processesIn(containerNs, needle).find((p) => inSyscall(p, nr)));
      if (caller !== -1) return { caller, done };
      const r = finished as AttachResult | undefined;
      if (attempt === 1 && r?.status === 1 && /ENOSYS/.test(r.stdout)) {
        process.stderr.write(`# ${argv.join(' ')}: lxc-attach ran without a seccomp listener; retrying once\n`);
        continue;
      }
      throw new Error(`the call was never held: ${r?.stdout ?? ''}${r?.stderr ?? ''}`);
    }
  }

  /** Runs argv in the container with the helper stopped, until the request waits in the helper's socket. */
  async function holdInHelper(t: Test, argv: string[], needle: string, nr: number, cwd?: string) {
    const helpers = helperPids(daemonPid());
    if (helpers.length !== 1) throw new Error(`expected one helper, found ${helpers.length}`);
    const helper = helpers[0]!;
    process.kill(helper, 'SIGSTOP');
    const release = (): void => cont(helper);
    t.teardown(release); // even if the test fails half-way
    try {
      const { caller, done } = await startParked(argv, needle, nr, cwd);
      await waitFor('the request in the helper socket', () => queuedBytes(helper) > 0);
      return { helper, caller, done, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Runs argv in the container with the daemon stopped, until the request waits unread in the proxy socket. */
  async function holdInDaemon(t: Test, argv: string[], needle: string, nr: number, cwd?: string) {
    const pid = daemonPid();
    process.kill(pid, 'SIGSTOP');
    const release = (): void => cont(pid);
    t.teardown(release); // even if the test fails half-way
    try {
      const { caller, done } = await startParked(argv, needle, nr, cwd);
      await waitFor('the request in the proxy socket', () => queuedBytes(pid) > 0);
      return { caller, done, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  t.test('killed while its request waits for the helper: answered once, nothing made, nothing leaked', (t) =>
    oneVoidRequest(t, 'killed', async ({ before, mark }) => {
      const held = await holdInHelper(t, ['/bin/probe', 'mknod', '/tmp/lc/killed', 'c', '1', '3'], 'lc/killed', SYS_MKNOD);
      process.kill(held.caller, 'SIGKILL');
      const r: AttachResult = await held.done;
      await waitFor('the caller reaped', () => reaped(held.caller));
      t.equal(lastJson(r.stdout), undefined, 'the caller printed nothing: it died in the call');
      held.release();
      await waitFor('the daemon to note the caller gone', () => goneFor(mark, held.caller).length > 0);
      const gone = goneFor(mark, held.caller)[0]!;
      t.equal(gone.level, 20, 'logged at debug level');
      t.match(JSON.stringify(gone.err), /ICD_TARGET_GONE/, 'as a caller gone');
      t.same(loud(mark), [], 'no warning or error');
      t.equal(logsFrom(mark).filter((l) => l.audit === true).length, 0, 'no audit line: nothing was done');
      const after = await mknodStats(s);
      t.same(diff(before.mknod, after.mknod), { failure: 1 }, 'counted once, as a failure');
      t.equal(after.total - before.total, 1, 'one request');
      t.notOk(exists('/tmp/lc/killed'), 'no node was made');
    }));

  t.test('killed before the daemon reads its request: answered once, nothing made', (t) =>
    oneVoidRequest(t, 'unread', async ({ before, mark }) => {
      const held = await holdInDaemon(t, ['/bin/probe', 'mknod', '/tmp/lc/unread', 'c', '1', '3'], 'lc/unread', SYS_MKNOD);
      process.kill(held.caller, 'SIGKILL');
      await held.done;
      await waitFor('the caller reaped', () => reaped(held.caller));
      held.release();
      await waitFor('the daemon to note the caller gone', () => goneFor(mark, held.caller).length > 0);
      t.equal(goneFor(mark, held.caller)[0]!.level, 20, 'logged at debug level');
      t.same(loud(mark), [], 'no warning or error');
      t.same(diff(before.mknod, (await mknodStats(s)).mknod), { failure: 1 }, 'counted once, as a failure');
      t.notOk(exists('/tmp/lc/unread'), 'no node was made');
    }));

  t.test('interrupted with SA_RESTART: the restarted call is a new request and succeeds once', (t) =>
    oneVoidRequest(t, 'restart', async ({ before, mark }) => {
      const held = await holdInHelper(t, ['/bin/probe', 'sigusr1', 'restart', 'mknod', '/tmp/lc/restart', 'c', '1', '3'], 'lc/restart', SYS_MKNOD);
      process.kill(held.caller, 'SIGUSR1');
      // Handled, then the call restarted: the first notification is void, a second one waits.
      await waitFor('the signal handled', () => !signalPending(held.caller, SIGUSR1_BIT) && inSyscall(held.caller, SYS_MKNOD));
      held.release();
      const r = await held.done;
      t.match(lastJson(r.stdout), { op: 'mknod', ret: 0, signals: 1 }, `the caller's one result: ${r.stdout.trim()}`);
      await waitFor('the daemon to note the first request void', () => goneFor(mark, held.caller).length > 0);
      t.equal(goneFor(mark, held.caller).length, 1, 'the first request: the caller was interrupted');
      const auditsOf = (p: string): Record<string, unknown>[] => logsFrom(mark).filter((l) => l.audit === true && l.path === p);
      await waitFor('the audit line', () => auditsOf('/tmp/lc/restart').length > 0);
      const audits = auditsOf('/tmp/lc/restart');
      t.equal(audits.length, 1, 'one mknod performed');
      t.equal(audits[0]?.errno, 0, 'and it succeeded');
      t.same(loud(mark), [], 'no warning or error');
      const after = await mknodStats(s);
      t.same(diff(before.mknod, after.mknod), { failure: 1, emulated: 1 }, 'two requests: one void, one emulated');
      t.match(s.probe(['stat', '/tmp/lc/restart']), { type: 'c', major: 1, minor: 3 }, 'the node exists');
    }));

  t.test('interrupted without SA_RESTART: EINTR at once, and nothing made afterwards', (t) =>
    oneVoidRequest(t, 'eintr', async ({ before, mark }) => {
      const held = await holdInHelper(t, ['/bin/probe', 'sigusr1', 'norestart', 'mknod', '/tmp/lc/eintr', 'c', '1', '3'], 'lc/eintr', SYS_MKNOD);
      process.kill(held.caller, 'SIGUSR1');
      // The caller returns while its request still waits in the stopped helper.
      const r = await held.done;
      t.match(lastJson(r.stdout), { op: 'mknod', ret: -1, err: 'EINTR', signals: 1 }, `the caller's one result: ${r.stdout.trim()}`);
      held.release();
      await waitFor('the daemon to note the request void', () => goneFor(mark, held.caller).length > 0);
      t.same(loud(mark), [], 'no warning or error');
      t.equal(logsFrom(mark).filter((l) => l.audit === true).length, 0, 'nothing performed');
      const after = await mknodStats(s);
      t.same(diff(before.mknod, after.mknod), { failure: 1 }, 'one request, void');
      t.notOk(exists('/tmp/lc/eintr'), 'no node was made after the caller had its EINTR');
    }));

  t.test('stopped and continued (no handler): the kernel restarts the call, which succeeds once', (t) =>
    oneVoidRequest(t, 'stopcont', async ({ before, mark }) => {
      const held = await holdInHelper(t, ['/bin/probe', 'mknod', '/tmp/lc/stopcont', 'c', '1', '3'], 'lc/stopcont', SYS_MKNOD);
      process.kill(held.caller, 'SIGSTOP');
      await waitFor('the caller stopped', () => taskState(held.caller) === 'T');
      process.kill(held.caller, 'SIGCONT');
      await waitFor('the call restarted', () => taskState(held.caller) !== 'T' && inSyscall(held.caller, SYS_MKNOD));
      held.release();
      const r = await held.done;
      t.match(lastJson(r.stdout), { op: 'mknod', ret: 0 }, `the caller's one result: ${r.stdout.trim()}`);
      const audits = (): Record<string, unknown>[] => logsFrom(mark).filter((l) => l.audit === true && l.path === '/tmp/lc/stopcont');
      await waitFor('the audit line', () => audits().length > 0);
      t.equal(goneFor(mark, held.caller).length, 1, 'the first request was void');
      t.equal(audits().length, 1, 'one mknod performed');
      t.same(loud(mark), [], 'no warning or error');
      const after = await mknodStats(s);
      t.same(diff(before.mknod, after.mknod), { failure: 1, emulated: 1 }, 'two requests: one void, one emulated');
      t.match(s.probe(['stat', '/tmp/lc/stopcont']), { type: 'c', major: 1, minor: 3 }, 'the node exists');
    }));

  /** Starts `probe impostor` on the host; resolves once the impostor is set up. */
  async function impostor(args: string[]): Promise<{ child: ChildProcess; pid: number; nsPid: number }> {
    const child = spawn(probeBin, ['impostor', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    const line = await waitFor('the impostor', () => (out.includes('\n') ? lastJson(out) : child.exitCode !== null ? ({ ret: -2 } as ProbeResult) : undefined));
    if (line.ret !== 0) throw new Error(`impostor failed: ${out}`);
    return { child, pid: Number(args[0]), nsPid: Number(line.pid) };
  }

  async function endImpostor(imp: { child: ChildProcess; pid: number }): Promise<void> {
    const exited = new Promise((r) => (imp.child.exitCode !== null ? r(null) : imp.child.on('exit', r)));
    try {
      process.kill(imp.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await exited;
  }

  t.test('pid reused by a host process before the daemon reads the request: nothing done for it', (t) =>
    oneVoidRequest(t, 'reuse-host', async ({ before, mark }) => {
      // The daemon stopped: the monitor forwards the request, which waits unread.
      const { caller, done, release } = await holdInDaemon(t, ['/bin/probe', 'mknod-fixed', 'lc-reuse', 'c', '1', '3'], 'lc-reuse', SYS_MKNOD, '/tmp/lc-victim');
      let imp: Awaited<ReturnType<typeof impostor>> | undefined;
      try {
        process.kill(caller, 'SIGKILL');
        await done;
        await waitFor('the caller reaped', () => reaped(caller));
        // Same host pid, cwd on the host, another path at the same address: a daemon reading
        // the arguments by pid now reads this one (it does, and then finds the caller gone).
        imp = await impostor([String(caller), HOST_DIR, 'lc-reused']);
        t.equal(fs.readlinkSync(`/proc/${caller}/cwd`), HOST_DIR, `host pid ${caller} is now a host process`);
        release();
        await waitFor('the daemon to note the caller gone', () => goneFor(mark, caller).length > 0);
        const err = goneFor(mark, caller)[0]!.err as { message?: string };
        t.match(err.message, /its \/proc status is unreadable/, 'the /proc fd liblxc opened still names the dead caller');
        t.same(loud(mark), [], 'no warning or error');
        const after = await mknodStats(s);
        t.same(diff(before.mknod, after.mknod), { failure: 1 }, 'one request, counted as a failure');
        t.same(fs.readdirSync(HOST_DIR), [], "nothing made in the new process's cwd");
        t.same(fs.readdirSync(s.container.hostPath('/tmp/lc-victim')), [], "nor in the dead caller's");
        t.ok(!reaped(caller) && fs.readlinkSync(`/proc/${caller}/cwd`) === HOST_DIR, 'the new process was left alone');
      } finally {
        release();
        if (imp !== undefined) await endImpostor(imp);
      }
    }));

  t.test("pid reused inside the container before the helper acts: nothing done for the new process", (t) =>
    oneVoidRequest(t, 'reuse-ct', async ({ before, mark }) => {
      const held = await holdInHelper(t, ['/bin/probe', 'mknod-fixed', 'lc-reuse', 'c', '1', '3'], 'lc-reuse', SYS_MKNOD, '/tmp/lc-victim');
      let imp: Awaited<ReturnType<typeof impostor>> | undefined;
      try {
        const nsPid = Number(statusField(held.caller, 'NSpid')!.trim().split(/\s+/).pop());
        process.kill(held.caller, 'SIGKILL');
        await held.done;
        await waitFor('the caller reaped', () => reaped(held.caller));
        // Same host pid and same container pid, in the container's pid and mount namespaces.
        imp = await impostor([String(held.caller), '/tmp/lc-impostor', 'lc-reused', String(nsPid), String(initPid)]);
        t.equal(imp.nsPid, nsPid, `the container's pid ${nsPid} is taken again`);
        t.equal(pidNs(held.caller), containerNs, `host pid ${held.caller} is again a process of the container`);
        held.release();
        await waitFor('the daemon to note the caller gone', () => goneFor(mark, held.caller).length > 0);
        t.same(loud(mark), [], 'no warning or error');
        t.equal(logsFrom(mark).filter((l) => l.audit === true).length, 0, 'nothing performed');
        const after = await mknodStats(s);
        t.same(diff(before.mknod, after.mknod), { failure: 1 }, 'one request, counted as a failure');
        t.same(fs.readdirSync(s.container.hostPath('/tmp/lc-impostor')), [], "nothing made in the new process's cwd");
        t.same(fs.readdirSync(s.container.hostPath('/tmp/lc-victim')), [], "nor in the dead caller's");
      } finally {
        held.release();
        if (imp !== undefined) await endImpostor(imp);
      }
    }));

  t.test('killed while the helper runs its hung action: the deadline ends it, nothing is left behind', async (t) => {
    // A short deadline for this one (a reload applies it to new requests).
    const settings = path.join(s.daemon.configDir, 'interceptd.yaml');
    fs.writeFileSync(settings, 'deadline-ms: 3000\n');
    let mark = await logMark();
    process.kill(daemonPid(), 'SIGHUP');
    await waitFor('the reload', () => logsFrom(mark).some((l) => l.msg === 'reloaded'));
    try {
      const fds = await restingFds(daemonPid());
      const before = await stats(s, 'mount');
      mark = await logMark();
      const voids = voidAnswers();
      const ns = containerNs;
      const { caller, done } = await startParked(['/bin/probe', 'mount', 'none', '/mnt/lc', 'ext4'], '/mnt/lc', SYS_MOUNT);
      await waitFor('the FUSE program running', () => processesIn(ns, '/bin/probe\0pause').length > 0);
      process.kill(caller, 'SIGKILL');
      await done;
      await waitFor('the caller reaped', () => reaped(caller));
      await waitFor('the deadline', () => logsFrom(mark).some((l) => String(l.msg).includes('killing the helper')), 30_000);
      await waitFor('the FUSE program gone', () => processesIn(ns, '/bin/probe\0pause').length === 0);
      t.pass('the hung FUSE program went with its helper');
      const mounts = readOr(`/proc/${initPid}/mountinfo`) ?? '';
      t.notMatch(mounts, / \/mnt\/lc /, 'nothing mounted');
      t.equal(logsFrom(mark).filter((l) => l.audit === true).length, 0, 'nothing performed');
      // The helper itself hung: that is worth an error, whatever became of the caller. The
      // helper call's own timeout and the request's deadline fall together: either answers.
      const lines = loud(mark).map((l) => `${String(l.msg)} ${(l.err as { code?: string } | undefined)?.code ?? ''}`.trim()).sort();
      t.equal(lines.length, 2, `two error lines: ${JSON.stringify(lines)}`);
      t.equal(lines.filter((l) => l === 'helper request timed out; killing the helper').length, 1, 'the hung helper killed, once');
      t.equal(
        lines.filter((l) => l === 'deadline reached; answering continue' || l === 'handler failed; answering continue ICD_HELPER_TIMEOUT').length,
        1,
        'the request answered at its deadline, once',
      );
      const counted = diff(before.counts, (await stats(s, 'mount')).counts);
      t.ok(JSON.stringify(counted) === '{"failure":1}' || JSON.stringify(counted) === '{"deadline":1}', `one mount request, failed: ${JSON.stringify(counted)}`);
      await expectVoidAnswers(t, voids, 1);
      await stillSound(t, fds, 'hung');
    } finally {
      fs.writeFileSync(settings, `deadline-ms: ${DEADLINE_MS}\n`);
      process.kill(daemonPid(), 'SIGHUP');
    }
  });
}
