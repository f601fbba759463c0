// The peer: the same caller in a container of Debian's LXD 5.0.2, with LXD's own
// interception (security.syscalls.intercept.*). LXD runs in a network namespace of its
// own with no network configured, and its containers get no nic.

import { spawn } from 'node:child_process';
import { Lxd } from '../integration/lib/lxd.js';
import { BENCH_DIR, XATTR_DIR, type BenchCase } from './cases.js';
import { benchTmpfs } from './lib/tmpfs.js';
import { CALLER_PATH, callerArgv, parseCallerOutput, type CallerRun, type Target, type Window } from './target.js';

export { Lxd };

const LXD_KEYS = Object.fromEntries(
  ['mknod', 'setxattr', 'sched_setscheduler'].map((k) => [`security.syscalls.intercept.${k}`, 'true']),
);

/** A running container with LXD's interception keys, the caller pushed in. */
export function launchLxdTarget(lxd: Lxd, name: string, caller: string): LxdTarget {
  const c = lxd.launch(name, {
    // The host's bounding set lacks CAP_SYS_RESOURCE; LXD's forksyscall copies the caller's caps.
    config: { ...LXD_KEYS, 'raw.lxc': 'lxc.cap.drop = sys_resource' },
    devices: { bench: ['disk', `source=${benchTmpfs(name)}`, `path=${BENCH_DIR}`] },
  });
  c.push(caller, CALLER_PATH);
  const r = c.exec(['mkdir', '-p', BENCH_DIR, XATTR_DIR]);
  if (r.status !== 0) throw new Error(`mkdir in ${name} failed: ${r.stderr}`);
  return new LxdTarget('lxd', name, lxd.pid);
}

export class LxdTarget implements Target {
  constructor(
    readonly label: string,
    readonly name: string,
    readonly servingPid: number,
  ) {}

  /** LXD has no bpf interception in this setup, and the floor-only cases are not for it. */
  supports(c: BenchCase): boolean {
    return ['baseline', 'declined', 'mknod', 'setxattr', 'sched'].includes(c.id);
  }

  run(c: BenchCase, warmup: number, n: number, window?: Window): Promise<CallerRun> {
    return new Promise((resolve, reject) => {
      const child = spawn('lxc', ['exec', this.name, '--', ...callerArgv(c, warmup, n, window)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
      child.on('error', reject);
      child.on('close', (status) => {
        clearTimeout(timer);
        try {
          resolve(parseCallerOutput(`LXD container ${this.name}`, status, stdout, stderr));
        } catch (err) {
          reject(err);
        }
      });
    });
  }
}
