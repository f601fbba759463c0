// sysinfo in a real unprivileged LXC container with a 256 MiB memory limit, wired to a
// real interceptd: the container's memory, tasks and uptime, in the caller's own layout.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { buildProbe32, TEST_ROOT } from './lib/lxc.js';
import { requireContainers, startScenario, type ProbeResult, type Scenario } from './lib/scenario.js';

const SYSINFO_ON = 'security.syscalls.intercept.sysinfo=true';
const LIMIT = 268435456;
const MiB = 1 << 20;

/** The host's swap, from /proc/meminfo, in bytes. */
function hostSwapTotal(): number {
  const m = /^SwapTotal:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

/** Every line of the output that is a probe result. */
function results(out: string): ProbeResult[] {
  return out.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as ProbeResult);
}

/** The container's own memory limit file (v1 memory.limit_in_bytes or v2 memory.max), found as the daemon finds it. */
function memoryLimitFile(initPid: number): { path: string; unlimited: string } {
  const lines = fs.readFileSync(`/proc/${initPid}/cgroup`, 'utf8');
  const v1 = /^\d+:(?:[^:]*,)?memory(?:,[^:]*)?:(.*)$/m.exec(lines);
  if (v1 && fs.existsSync(`/sys/fs/cgroup/memory${v1[1]}/memory.limit_in_bytes`)) {
    return { path: `/sys/fs/cgroup/memory${v1[1]}/memory.limit_in_bytes`, unlimited: '-1' };
  }
  const v2 = /^0::(.*)$/m.exec(lines)?.[1] ?? '';
  const mount = fs.existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup' : '/sys/fs/cgroup/unified';
  return { path: `${mount}${v2}/memory.max`, unlimited: 'max' };
}

async function eventually(check: () => boolean, ms = 3000): Promise<boolean> {
  for (const until = Date.now() + ms; Date.now() < until; await new Promise((r) => setTimeout(r, 20))) {
    if (check()) return true;
  }
  return check();
}

if (requireContainers(t)) {
  let s: Scenario;
  let startedAt = 0;
  /** Seconds since just before the container started: an upper bound for its uptime. */
  const sinceStart = (): number => (Date.now() - startedAt) / 1000;
  t.before(async () => {
    startedAt = Date.now();
    s = await startScenario('itest-sysinfo', [SYSINFO_ON], { config: [`lxc.cgroup.memory.limit_in_bytes = ${LIMIT}`] });
    s.container.copyIn(buildProbe32(path.join(TEST_ROOT, 'bin')), '/bin/probe32');
  });
  t.teardown(() => s?.teardown());

  const probe32 = (args: string[]): ProbeResult => {
    const r = s.run(['/bin/probe32', ...args]);
    const last = results(r.stdout).pop();
    if (last === undefined) throw new Error(`probe32 printed no result (status ${r.status}): ${r.stdout}${r.stderr}`);
    return last;
  };

  t.test('sysinfo reports the container: its memory limit, its tasks, its uptime', async (t) => {
    const r = s.probe(['sysinfo']);
    t.match(r, { ret: 0, size: 112, mem_unit: 1, totalram: LIMIT, canary_ok: true });
    t.not(r.totalram, os.totalmem(), "not the host's memory");
    const freeram = Number(r.freeram);
    t.ok(freeram > 0 && freeram <= LIMIT, `freeram ${freeram} within the limit`);
    t.ok(Number(r.bufferram) < LIMIT, 'bufferram from the cgroup');
    const procs = Number(r.procs);
    t.ok(procs > 0 && procs < 100, `procs ${procs}: the container's tasks`);
    const uptime = Number(r.uptime);
    t.ok(uptime >= 0 && uptime <= sinceStart() + 2, `uptime ${uptime} s: since the container started (${sinceStart()} s ago)`);
    t.ok(Number(r.totalswap) <= hostSwapTotal(), 'totalswap never above the host swap');
    t.ok(Number(r.freeswap) <= Number(r.totalswap));
    t.ok(
      await eventually(() =>
        s.daemon.logs.some((l) => l.msg === 'sysinfo emulated' && l.audit === true && l.totalram === LIMIT && l.abi === 'x86_64' && l.layout === 'native'),
      ),
      'one audit line per call, with the ABI',
    );
  });

  t.test('a 32-bit caller gets the 64-byte i386 struct and nothing past it is written', async (t) => {
    const r = probe32(['sysinfo']);
    t.match(r, { ret: 0, size: 64, canary_ok: true });
    t.equal(Number(r.totalram) * Number(r.mem_unit), LIMIT, 'totalram × mem_unit is the limit');
    t.equal(r.mem_unit, 1, '256 MiB fits 32 bits: mem_unit 1, as the kernel would say');
    t.ok(Number(r.freeram) <= Number(r.totalram));
    const procs = Number(r.procs);
    t.ok(procs > 0 && procs < 100, `procs ${procs}`);
    t.ok(Number(r.uptime) <= sinceStart() + 2, `uptime ${r.uptime}`);
    t.ok(await eventually(() => s.daemon.logs.some((l) => l.msg === 'sysinfo emulated' && l.abi === 'i386' && l.layout === 'i386')));
  });

  t.test('procs follows the tasks started in the container', async (t) => {
    const base = Number(s.probe(['sysinfo']).procs);
    const r = s.run(['sh', '-c', 'for i in 1 2 3 4 5; do sleep 30 & done; /bin/probe sysinfo; kill $(jobs -p)']);
    const [after] = results(r.stdout);
    t.ok(Number(after?.procs) >= base + 5, `${base} → ${after?.procs} with five more sleeps`);
  });

  t.test('page cache written in the container shows as bufferram and lowers freeram', async (t) => {
    const r = s.run(['sh', '-c', 'dd if=/dev/zero of=/tmp/fill bs=1M count=48 2>/dev/null; /bin/probe sysinfo; rm -f /tmp/fill']);
    const [after] = results(r.stdout);
    t.match(after, { ret: 0, totalram: LIMIT });
    t.ok(Number(after?.bufferram) >= 40 * MiB, `bufferram ${after?.bufferram}`);
    t.ok(Number(after?.freeram) <= LIMIT - 48 * MiB, `freeram ${after?.freeram}`);
  });

  t.test("busybox free shows the limit; busybox uptime the container's uptime", async (t) => {
    const free = s.run(['free']);
    // Columns are 12 wide and may run together ("used" mixes in the host's /proc/meminfo):
    // the total is the field that ends under the "total" heading.
    const [heading = '', mem = ''] = free.stdout.split('\n');
    const end = heading.indexOf('total') + 'total'.length;
    const total = mem.startsWith('Mem:') ? mem.slice(end - 12, end).trim() : '';
    t.equal(total, String(LIMIT / 1024), `free: total ${total} KiB\n${free.stdout}`);
    const up = s.run(['uptime']);
    // busybox: "up N min" below an hour, "up H:MM" below a day, "up D days, ..." above.
    const m = /up\s+(\d+) min,/.exec(up.stdout);
    t.ok(m, `less than an hour: ${up.stdout.trim()}`);
    t.ok(Number(m?.[1]) <= Math.ceil(sinceStart() / 60), `${m?.[1]} min; the container started ${sinceStart()} s ago`);
  });

  t.test('a bad buffer is EFAULT, as the kernel answers', async (t) => {
    t.match(s.probe(['sysinfo', 'badptr']), { ret: -1, err: 'EFAULT' }, 'unmapped');
    t.match(probe32(['sysinfo', 'badptr']), { ret: -1, err: 'EFAULT' }, 'unmapped, i386');
    t.match(s.probe(['sysinfo', 'straddle']), { ret: -1, err: 'EFAULT' }, 'the struct runs into an unmapped page');
    t.match(probe32(['sysinfo', 'straddle']), { ret: -1, err: 'EFAULT' }, 'the same, i386');
  });

  t.test('a read-only buffer is EFAULT, as the kernel answers', async (t) => {
    t.match(s.probe(['sysinfo', 'readonly']), { ret: -1, err: 'EFAULT' });
  });

  t.test('a limit changed at runtime counts at once; above 4 GiB an i386 caller gets pages', async (t) => {
    const limitFile = memoryLimitFile(s.container.initPid());
    t.teardown(() => fs.writeFileSync(limitFile.path, String(LIMIT)));
    fs.writeFileSync(limitFile.path, String(128 * MiB));
    t.match(s.probe(['sysinfo']), { ret: 0, totalram: 128 * MiB }, 'lowered to 128 MiB');
    fs.writeFileSync(limitFile.path, limitFile.unlimited);
    const host = os.totalmem();
    t.match(s.probe(['sysinfo']), { ret: 0, totalram: host, mem_unit: 1 }, "no limit: the host's memory");
    const r = probe32(['sysinfo']);
    if (host >= 2 ** 32) {
      t.match(r, { ret: 0, mem_unit: 4096, totalram: Math.floor(host / 4096), canary_ok: true }, 'in pages, as the compat kernel does');
    } else {
      t.match(r, { ret: 0, mem_unit: 1, totalram: host, canary_ok: true }, 'fits 32 bits');
    }
    t.ok(Number(r.freeram) <= Number(r.totalram));
  });

  t.test("switched off at runtime: the host's values come back", async (t) => {
    s.setPolicy(['security.syscalls.intercept.sysinfo=false']);
    await new Promise((r) => setTimeout(r, 300));
    const before = s.daemon.logs.length;
    const off = s.probe(['sysinfo']);
    t.match(off, { ret: 0, mem_unit: 1 });
    t.equal(off.totalram, os.totalmem(), "the host's totalram");
    await new Promise((r) => setTimeout(r, 100));
    t.notOk(s.daemon.logs.slice(before).some((l) => l.msg === 'sysinfo emulated'), 'nothing emulated');
    s.setPolicy([SYSINFO_ON]);
    await new Promise((r) => setTimeout(r, 300));
    t.match(s.probe(['sysinfo']), { ret: 0, totalram: LIMIT }, 'and on again');
  });

  t.test('the daemon itself declines (CONTINUE) when only its policy file says off', async (t) => {
    // lxc-config also drops the notify rule from the profile new processes get; editing
    // the policy alone keeps the call notified, so the daemon's own decision shows.
    const file = path.join(s.daemon.configDir, 'containers', 'itest-sysinfo.yaml');
    fs.writeFileSync(file, 'security.syscalls.intercept.sysinfo: "false"\n');
    await new Promise((r) => setTimeout(r, 300));
    const before = s.daemon.logs.length;
    const off = s.probe(['sysinfo']);
    t.match(off, { ret: 0 });
    t.equal(off.totalram, os.totalmem(), "the host's totalram");
    t.ok(
      await eventually(() =>
        s.daemon.logs.slice(before).some((l) => l.syscall === 'sysinfo' && l.msg === 'declined' && l.reason === 'sysinfo interception is off'),
      ),
      'the call reached the daemon and was declined',
    );
    s.setPolicy([SYSINFO_ON]);
    await new Promise((r) => setTimeout(r, 300));
    t.match(s.probe(['sysinfo']), { ret: 0, totalram: LIMIT }, 'and on again');
  });

  t.test('latency of an emulated sysinfo', async (t) => {
    const r = s.probe(['bench-sysinfo', '2000']);
    t.match(r, { op: 'bench-sysinfo', count: 2000, errors: 0 });
    t.comment(`sysinfo emulated: median ${r.median_us} µs, p99 ${r.p99_us} µs`);
  });
}
