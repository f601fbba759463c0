// Soak: many real containers making a mix of intercepted calls for a set time, while the
// daemon's open fds and RSS are sampled. Used by `npm run soak` and, short, by CI.

import fs from 'node:fs';
import path from 'node:path';
import { buildProbe, createContainer, DEFAULT_LXCPATH, TEST_ROOT, type Container } from './lxc.js';
import { cli, freshDir, startDaemon, type DaemonHandle } from './daemon.js';

export interface SoakOptions {
  readonly containers: number;
  readonly seconds: number;
  readonly log?: (line: string) => void;
}

export interface SoakSample {
  readonly t: number;
  readonly fds: number;
  readonly rssKiB: number;
}

export interface SoakReport {
  readonly containers: number;
  readonly seconds: number;
  readonly calls: number;
  /** Calls that should have succeeded but did not. */
  readonly errors: number;
  readonly samples: SoakSample[];
  readonly daemonAlive: boolean;
}

const KEYS = ['mknod', 'setxattr', 'sysinfo', 'sched_setscheduler'].map((k) => `security.syscalls.intercept.${k}=true`);

/** One round of the mix; every line is a probe bench result. Denied mknods are expected to fail. */
const ROUND = [
  '/bin/probe bench-mknod /tmp/soak 50',
  '/bin/probe bench-setxattr /tmp/soak/opaque 50',
  '/bin/probe bench-sysinfo 50',
  '/bin/probe bench-sched 50',
  '/bin/probe bench-mknod-denied /tmp/soak 50',
].join('; ');

function sample(pid: number, start: number): SoakSample {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { t: Math.round((Date.now() - start) / 1000), fds: fs.readdirSync(`/proc/${pid}/fd`).length, rssKiB: rss };
}

export async function soak(opts: SoakOptions): Promise<SoakReport> {
  const say = opts.log ?? (() => {});
  const stateDir = freshDir('/run/interceptd-test/soak');
  const configDir = freshDir(path.join(TEST_ROOT, 'scenarios', 'soak', 'etc'));
  const probe = buildProbe(path.join(TEST_ROOT, 'bin'));
  const daemon: DaemonHandle = await startDaemon({ stateDir, configDir, args: ['--log-level', 'warn'] });
  const containers: Container[] = [];
  let calls = 0;
  let errors = 0;
  const samples: SoakSample[] = [];
  const start = Date.now();
  try {
    for (let i = 0; i < opts.containers; i++) {
      const name = `soak-${i}`;
      const r = cli(['lxc-config', name, '--state-dir', stateDir, '--config-dir', configDir, ...KEYS.flatMap((k) => ['--set', k])]);
      if (r.status !== 0) throw new Error(r.stderr);
      const c = createContainer({ name, lxcpath: DEFAULT_LXCPATH, config: r.stdout.trim().split('\n') });
      c.start();
      c.copyIn(probe, '/bin/probe');
      c.attach(['mkdir', '-p', '/tmp/soak/opaque']);
      containers.push(c);
    }
    say(`${containers.length} containers running; soaking for ${opts.seconds} s`);
    samples.push(sample(daemon.child.pid!, start));
    const until = Date.now() + opts.seconds * 1000;
    const sampler = setInterval(() => samples.push(sample(daemon.child.pid!, start)), 2000);
    try {
      await Promise.all(
        containers.map(async (c) => {
          while (Date.now() < until) {
            const r = await c.attachAsync(['sh', '-c', ROUND], { timeoutMs: 120_000 });
            for (const line of r.stdout.trim().split('\n')) {
              if (!line.startsWith('{')) continue;
              const res = JSON.parse(line) as { op: string; count: number; errors: number };
              calls += res.count;
              if (res.op !== 'bench-mknod-denied') errors += res.errors;
              else errors += res.count - res.errors; // a denied call that succeeded is an error too
            }
            if (r.status !== 0) errors++;
          }
        }),
      );
    } finally {
      clearInterval(sampler);
    }
    samples.push(sample(daemon.child.pid!, start));
    return { containers: containers.length, seconds: opts.seconds, calls, errors, samples, daemonAlive: daemon.child.exitCode === null };
  } finally {
    for (const c of containers) {
      try {
        c.destroy();
      } catch {
        // keep cleaning up
      }
    }
    await daemon.stop();
  }
}
