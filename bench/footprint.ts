// Start-up time and memory: how soon a fresh interceptd answers its first request, and
// its RSS with many connected containers (fake liblxc monitors: see load/fake-monitors.c).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startDaemon } from './daemon.js';
import { build } from './lib/build.js';
import { usage } from './lib/proc.js';
import { median } from './lib/stats.js';

export interface FootprintResult {
  readonly ready_ms: number[];
  readonly ready_median_ms: number;
  readonly ready_max_ms: number;
  readonly rss_idle_mb: number;
  readonly peers: number;
  readonly peers_connected: number;
  readonly peer_replies: number;
  readonly rss_with_peers_mb: number;
  readonly rss_after_peers_left_mb: number;
}

/** Each fake monitor's requests (alternately a declined mknod and a sysinfo), so the heap sees traffic. */
const REQUESTS_PER_PEER = 50;

const mb = (kb: number | undefined): number => Math.round(((kb ?? 0) / 1024) * 10) / 10;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function writePolicies(configDir: string, prefix: string, count: number): void {
  const dir = path.join(configDir, 'containers');
  fs.mkdirSync(dir, { recursive: true });
  const yaml = ['mknod', 'setxattr', 'sched_setscheduler', 'sysinfo'].map((k) => `security.syscalls.intercept.${k}: "true"`).join('\n');
  for (let i = 0; i < count; i++) fs.writeFileSync(path.join(dir, `${prefix}-${i}.yaml`), `${yaml}\n`);
}

export async function measureFootprint(base: string, opts: { starts: number; peers: number; log: (s: string) => void }): Promise<FootprintResult> {
  const stateDir = path.join('/run/interceptd-bench', 'footprint');
  const configDir = path.join(base, 'footprint-etc');
  fs.rmSync(configDir, { recursive: true, force: true });
  writePolicies(configDir, 'fake', opts.peers);
  const logFile = path.join(base, 'footprint-daemon.log');
  fs.rmSync(logFile, { force: true });

  const ready: number[] = [];
  for (let i = 0; i < opts.starts; i++) {
    const d = await startDaemon({ stateDir, configDir, logFile });
    ready.push(Math.round(d.readyMs * 10) / 10);
    await d.stop();
    await sleep(200);
  }
  opts.log(`footprint: ready after ${ready.join(', ')} ms`);

  const d = await startDaemon({ stateDir, configDir, logFile });
  try {
    await sleep(1000);
    const idle = usage(d.pid)?.rss_kb;
    const peers = spawn(build('load/fake-monitors'), ['peers', d.socket, String(opts.peers), 'fake', String(REQUESTS_PER_PEER)], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    peers.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    const exited = new Promise<void>((r) => peers.on('exit', () => r()));
    const started = Date.now();
    while (!out.includes('connected') && Date.now() - started < 60_000 && peers.exitCode === null) await sleep(50);
    const m = /"connected":(\d+),"replies":(\d+)/.exec(out);
    await sleep(1000);
    const withPeers = usage(d.pid)?.rss_kb;
    peers.stdin.end();
    const timer = setTimeout(() => peers.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    await sleep(1000);
    const after = usage(d.pid)?.rss_kb;
    opts.log(`footprint: RSS idle ${mb(idle)} MB, with ${m?.[1]} peers ${mb(withPeers)} MB`);
    return {
      ready_ms: ready,
      ready_median_ms: median(ready),
      ready_max_ms: Math.max(...ready),
      rss_idle_mb: mb(idle),
      peers: opts.peers,
      peers_connected: Number(m?.[1] ?? 0),
      peer_replies: Number(m?.[2] ?? 0),
      rss_with_peers_mb: mb(withPeers),
      rss_after_peers_left_mb: mb(after),
    };
  } finally {
    await d.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}
