// The peer: the same caller in a container of Debian's LXD 5.0.2, with LXD's own
// interception (security.syscalls.intercept.*). LXD runs in a network namespace of its
// own with no network configured, and its containers get no nic.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildRootfs } from '../integration/lib/lxc.js';
import { BENCH_DIR, XATTR_DIR, type BenchCase } from './cases.js';
import { CALLER_PATH, callerArgv, parseCallerOutput, type CallerRun, type Target, type Window } from './target.js';

const IMAGE = 'icd-bench-busybox';
const LXD_KEYS = ['mknod', 'setxattr', 'sched_setscheduler'].map((k) => `security.syscalls.intercept.${k}=true`);
const PRESEED = `storage_pools:
- name: default
  driver: dir
profiles:
- name: default
  devices:
    root:
      path: /
      pool: default
      type: disk
`;

function run(cmd: string, args: string[], input?: string, timeoutMs = 120_000): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, timeout: timeoutMs, killSignal: 'SIGKILL' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') return { status: null, out: `${cmd} not found` };
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

function must(cmd: string, args: string[], input?: string): string {
  const r = run(cmd, args, input);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.out}`);
  return r.out;
}

export class Lxd {
  private constructor(
    readonly pid: number,
    /** Only an LXD the bench started is shut down by it. */
    private readonly ours: boolean,
    private readonly containers: string[] = [],
  ) {}

  /** Starts LXD (unless one runs), initialises a dir pool once, imports the busybox image once. */
  static async start(base: string, log: (s: string) => void): Promise<Lxd> {
    if (run('lxd', ['--version']).status !== 0) throw new Error('lxd is not installed (apt-get install lxd)');
    let ours = false;
    if (run('lxd', ['waitready', '--timeout', '1']).status !== 0) {
      const logFile = path.join(base, 'lxd.log');
      // Its own network namespace: LXD's start-up fetch of instance types cannot leave the machine.
      const child = spawn('unshare', ['--net', '--', 'lxd', '--group', 'root', '--logfile', logFile], { detached: true, stdio: 'ignore' });
      child.unref();
      ours = true;
      if (run('lxd', ['waitready', '--timeout', '60'], undefined, 70_000).status !== 0) {
        throw new Error(`lxd did not become ready: ${fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-1500) : ''}`);
      }
      log('lxd: started');
    }
    const pid = Number(run('pgrep', ['-xo', 'lxd']).out.split('\n')[0]);
    if (run('lxc', ['storage', 'show', 'default']).status !== 0) must('lxd', ['init', '--preseed'], PRESEED);
    if (run('lxc', ['image', 'show', IMAGE]).status !== 0) {
      const dir = path.join(base, 'lxd-image');
      fs.rmSync(dir, { recursive: true, force: true });
      buildRootfs(path.join(dir, 'rootfs'));
      fs.writeFileSync(path.join(dir, 'metadata.yaml'),
        `architecture: x86_64\ncreation_date: ${Math.floor(Date.now() / 1000)}\nproperties:\n  description: interceptd bench busybox\n  os: busybox\n`);
      // LXD shifts an image's ids into the container's range itself: the tarball is owned by 0.
      must('tar', ['-C', dir, '--numeric-owner', '--owner=0', '--group=0', '-czf', path.join(dir, 'image.tar.gz'), 'metadata.yaml', 'rootfs']);
      must('lxc', ['image', 'import', path.join(dir, 'image.tar.gz'), '--alias', IMAGE]);
      log('lxd: busybox image imported');
    }
    return new Lxd(pid, ours);
  }

  /** A running container with LXD's interception keys, the caller pushed in. */
  launch(name: string, caller: string): LxdTarget {
    run('lxc', ['delete', '-f', name]);
    must('lxc', ['launch', IMAGE, name, ...LXD_KEYS.flatMap((k) => ['-c', k]),
      // The host's bounding set lacks CAP_SYS_RESOURCE; LXD's forksyscall copies the caller's caps.
      '-c', 'raw.lxc=lxc.cap.drop = sys_resource']);
    this.containers.push(name);
    must('lxc', ['file', 'push', caller, `${name}${CALLER_PATH}`, '--mode', '0755']);
    must('lxc', ['exec', name, '--', 'mkdir', '-p', BENCH_DIR, XATTR_DIR]);
    return new LxdTarget('lxd', name, this.pid);
  }

  stop(log: (s: string) => void): void {
    for (const name of this.containers) run('lxc', ['delete', '-f', name]);
    if (this.ours) {
      const r = run('lxd', ['shutdown', '--timeout', '30'], undefined, 40_000);
      log(`lxd: shut down (${r.status === 0 ? 'ok' : r.out})`);
    }
  }
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
