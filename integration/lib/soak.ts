// Soak: many real containers making a mix of intercepted calls for a set time, while the
// daemon's open fds and RSS are sampled. Used by `npm run soak` and, short, by CI.

import fs from 'node:fs';
import path from 'node:path';
import { buildProbe, createContainer, DEFAULT_LXCPATH, TEST_ROOT, type Container } from './lxc.js';
import { cli, freshDir, startDaemon, type DaemonHandle } from './daemon.js';
import { controlRequest } from '../../src/control.js';

export interface SoakOptions {
  readonly containers: number;
  readonly seconds: number;
  readonly log?: (line: string) => void;
}

export interface SoakSample {
  readonly t: number;
  readonly fds: number;
  readonly rssKiB: number;
  /** V8 heap in use, from the daemon's status. */
  readonly heapKiB: number;
}

export interface SoakReport {
  readonly containers: number;
  readonly seconds: number;
  readonly calls: number;
  /** Calls that should have succeeded but did not. */
  readonly errors: number;
  /** Failed calls by operation and first errno. */
  readonly errorKinds: Record<string, number>;
  /** lxc-attach sessions, and those whose listener never reached the monitor (see above). */
  readonly rounds: number;
  readonly unregistered: number;
  readonly samples: SoakSample[];
  readonly daemonAlive: boolean;
  /** The daemon's warning and error lines. */
  readonly warnings: string[];
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

async function sample(pid: number, stateDir: string, start: number): Promise<SoakSample> {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const st = await controlRequest(stateDir, { cmd: 'status' }).catch(() => undefined);
  const heap = Number((st as { memory?: { heapUsed?: number } } | undefined)?.memory?.heapUsed ?? 0);
  return { t: Math.round((Date.now() - start) / 1000), fds: fs.readdirSync(`/proc/${pid}/fd`).length, rssKiB: rss, heapKiB: Math.round(heap / 1024) };
}

export async function soak(opts: SoakOptions): Promise<SoakReport> {
  const say = opts.log ?? (() => {});
  const stateDir = freshDir('/run/interceptd-test/soak');
  const configDir = freshDir(path.join(TEST_ROOT, 'scenarios', 'soak', 'etc'));
  const probe = buildProbe(path.join(TEST_ROOT, 'bin'));
  const daemon: DaemonHandle = await startDaemon({ stateDir, configDir, args: ['--log-level', process.env.SOAK_LOG_LEVEL ?? 'warn'] });
  const containers: Container[] = [];
  let calls = 0;
  let errors = 0;
  const errorKinds: Record<string, number> = {};
  let rounds = 0;
  let unregistered = 0;
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
    samples.push(await sample(daemon.child.pid!, stateDir, start));
    const until = Date.now() + opts.seconds * 1000;
    const sampler = setInterval(() => void sample(daemon.child.pid!, stateDir, start).then((x) => samples.push(x)), 2000);
    try {
      await Promise.all(
        containers.map(async (c) => {
          while (Date.now() < until) {
            const r = await c.attachAsync(['sh', '-c', ROUND], { timeoutMs: 120_000 });
            rounds++;
            const results = r.stdout
              .trim()
              .split('\n')
              .filter((l) => l.startsWith('{'))
              .map((l) => JSON.parse(l) as { op: string; count: number; errors: number; err: string });
            // lxc-attach sometimes fails to hand its seccomp listener to the monitor (exit 1,
            // nothing logged); its program then runs without a listener and the kernel answers
            // ENOSYS to every notify rule. Counted apart: no request reached the daemon.
            if (r.status !== 0 && results.every((x) => x.err === 'ENOSYS' && x.errors === x.count)) {
              unregistered++;
              calls += results.reduce((n, x) => n + x.count, 0);
              continue;
            }
            for (const res of results) {
              calls += res.count;
              // A denied call that succeeded is an error too.
              const bad = res.op === 'bench-mknod-denied' ? res.count - res.errors : res.errors;
              if (bad > 0) {
                errors += bad;
                const kind = `${res.op}:${res.err || 'succeeded'}`;
                errorKinds[kind] = (errorKinds[kind] ?? 0) + bad;
              }
            }
            if (r.status !== 0) {
              errors++;
              errorKinds[`attach exit ${r.status}`] = (errorKinds[`attach exit ${r.status}`] ?? 0) + 1;
            }
          }
        }),
      );
    } finally {
      clearInterval(sampler);
    }
    samples.push(await sample(daemon.child.pid!, stateDir, start));
    return { containers: containers.length, seconds: opts.seconds, calls, errors, errorKinds, samples, daemonAlive: daemon.child.exitCode === null, rounds, unregistered, warnings: [...daemon.logs.filter((l) => Number(l.level) >= 40 || /connect|closed/.test(String(l.msg))).map((l) => JSON.stringify(l))] };
  } finally {
    for (const c of containers) {
      try {
        if (process.env.SOAK_KEEP_LOGS) fs.copyFileSync(c.logFile, `/tmp/${c.name}.lxc.log`);
        c.destroy();
      } catch {
        // keep cleaning up
      }
    }
    await daemon.stop();
  }
}
