// Per-call latency inside a real unprivileged LXC container served by interceptd,
// next to the same calls made natively by root on the host. A first cut of
// `npm run bench`: no C floor and no LXD comparison yet.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildProbe, canRunContainers, TEST_ROOT } from '../integration/lib/lxc.js';
import { startScenario } from '../integration/lib/scenario.js';

const N = Number(process.env.BENCH_N ?? 2000);

interface Row {
  op: string;
  count: number;
  errors: number;
  err: string;
  median_us: number;
  p99_us: number;
  p999_us: number;
}

const can = canRunContainers();
if (!can.ok) {
  console.error(`bench needs real containers: ${can.reason}`);
  process.exit(1);
}

const keys = ['mknod', 'setxattr', 'sched_setscheduler', 'sysinfo'].map((k) => `security.syscalls.intercept.${k}=true`);
const s = await startScenario('interceptd-bench', keys, { daemonArgs: ['--log-level', 'info'] });
const results: { call: string; inside?: Row; host?: Row }[] = [];
try {
  s.container.attach(['mkdir', '-p', '/tmp/bench/opaque']);
  const hostDir = fs.mkdtempSync(path.join(TEST_ROOT, 'bench-host-'));
  fs.mkdirSync(path.join(hostDir, 'opaque'));
  const probe = buildProbe(path.join(TEST_ROOT, 'bin'));
  const cases: [string, string[], string[] | undefined][] = [
    ['getppid (not intercepted)', ['bench-getppid', String(N)], ['bench-getppid', String(N)]],
    ['mknod c 1:3 + unlink (emulated)', ['bench-mknod', '/tmp/bench', String(N)], ['bench-mknod', hostDir, String(N)]],
    ['mknod b 8:0 (declined: CONTINUE → EPERM)', ['bench-mknod-denied', '/tmp/bench', String(N)], undefined],
    ['setxattr trusted.overlay.opaque (emulated)', ['bench-setxattr', '/tmp/bench/opaque', String(N)], ['bench-setxattr', path.join(hostDir, 'opaque'), String(N)]],
    ['sched_setscheduler(0, SCHED_OTHER) (emulated)', ['bench-sched', String(N)], ['bench-sched', String(N)]],
    ['sysinfo (emulated: cgroup view)', ['bench-sysinfo', String(N)], ['bench-sysinfo', String(N)]],
  ];
  for (const [call, inside, host] of cases) {
    const row: { call: string; inside?: Row; host?: Row } = { call };
    row.inside = s.probe(inside) as unknown as Row;
    if (host) row.host = JSON.parse(execFileSync(probe, host, { encoding: 'utf8' }).trim().split('\n').pop()!) as Row;
    results.push(row);
  }
  fs.rmSync(hostDir, { recursive: true, force: true });
} finally {
  await s.teardown();
}

const fmt = (r?: Row): string => (r ? `${r.median_us.toFixed(1)} / ${r.p99_us.toFixed(1)}${r.errors ? ` (${r.errors} × ${r.err})` : ''}` : '—');
console.log(`\n${N} calls each; ${os.cpus().length} CPUs, kernel ${os.release()}, node ${process.version}\n`);
console.log('| call | in the container: median / p99 µs | host root, native: median / p99 µs |');
console.log('|---|---|---|');
for (const r of results) console.log(`| ${r.call} | ${fmt(r.inside)} | ${fmt(r.host)} |`);
