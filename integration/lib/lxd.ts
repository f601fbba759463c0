// Debian's LXD 5.0.2 as a test peer: started by hand (no systemd) in a network namespace
// of its own, a dir storage pool, no network, and a locally built busybox image.
// Used by the bench (bench/target-lxd.ts) and the differential test (lxd-diff.test.ts).

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildRootfs } from './lxc.js';

export const LXD_DIR = '/var/lib/lxd';
/** LXD's REST socket, and its seccomp server socket (what liblxc connects to by default). */
export const LXD_SOCKET = path.join(LXD_DIR, 'unix.socket');
export const LXD_SECCOMP_SOCKET = path.join(LXD_DIR, 'seccomp.socket');
const IMAGE = 'icd-busybox';
/**
 * LXD's report of liblxc 5.0.2 failing an attach after the command ran: it lost the
 * command's seccomp listener, so every notified call of that run got ENOSYS.
 */
export function listenerLost(r: RunResult): boolean {
  return r.status !== 0 && r.stderr.includes('Failed to retrieve PID of executing child process');
}
const POOL = 'default';
const PRESEED = `storage_pools:
- name: ${POOL}
  driver: dir
profiles:
- name: default
  devices:
    root:
      path: /
      pool: ${POOL}
      type: disk
`;

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): RunResult {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8', input: opts.input, timeout: opts.timeoutMs ?? 120_000, killSignal: 'SIGKILL', maxBuffer: 64 << 20,
  });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') return { status: null, stdout: '', stderr: `${cmd} not found` };
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function must(cmd: string, args: string[], input?: string): string {
  const r = run(cmd, args, { input });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${(r.stdout + r.stderr).trim()}`);
  return r.stdout;
}

/** The `lxc` client, as a user would run it. */
export function lxcClient(args: string[]): RunResult {
  return run('lxc', args);
}

/** Why LXD tests cannot run here, or undefined when they can. */
export function lxdUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'LXD tests need root';
  if (run('lxd', ['--version']).status !== 0) return 'lxd is not installed (apt-get install lxd)';
  if (run('lxc', ['--version']).status !== 0) return 'the lxc client is not installed';
  return undefined;
}

export class Lxd {
  private constructor(
    readonly pid: number,
    /** Only an LXD started here is shut down by stop(). */
    private readonly ours: boolean,
    private readonly containers: LxdContainer[] = [],
  ) {}

  /** Starts LXD (unless one runs), initialises a dir pool once, imports the busybox image once. */
  static async start(base: string, log: (s: string) => void): Promise<Lxd> {
    const why = lxdUnavailable();
    if (why) throw new Error(why);
    let ours = false;
    if (run('lxd', ['waitready', '--timeout', '1']).status !== 0) {
      fs.mkdirSync(base, { recursive: true });
      const logFile = path.join(base, 'lxd.log');
      // Its own network namespace: LXD's start-up fetch of instance types cannot leave the machine.
      const child = spawn('unshare', ['--net', '--', 'lxd', '--group', 'root', '--logfile', logFile], { detached: true, stdio: 'ignore' });
      child.unref();
      ours = true;
      if (run('lxd', ['waitready', '--timeout', '60'], { timeoutMs: 70_000 }).status !== 0) {
        throw new Error(`lxd did not become ready: ${fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-1500) : ''}`);
      }
      log('lxd: started');
    }
    const pid = Number(run('pgrep', ['-xo', 'lxd']).stdout.split('\n')[0]);
    if (run('lxc', ['storage', 'show', POOL]).status !== 0) must('lxd', ['init', '--preseed'], PRESEED);
    if (run('lxc', ['image', 'show', IMAGE]).status !== 0) {
      const dir = path.join(base, 'lxd-image');
      fs.rmSync(dir, { recursive: true, force: true });
      buildRootfs(path.join(dir, 'rootfs'));
      fs.writeFileSync(path.join(dir, 'metadata.yaml'),
        `architecture: x86_64\ncreation_date: ${Math.floor(Date.now() / 1000)}\nproperties:\n  description: interceptd test busybox\n  os: busybox\n`);
      // LXD shifts an image's ids into the container's range itself: the tarball is owned by 0.
      must('tar', ['-C', dir, '--numeric-owner', '--owner=0', '--group=0', '-czf', path.join(dir, 'image.tar.gz'), 'metadata.yaml', 'rootfs']);
      must('lxc', ['image', 'import', path.join(dir, 'image.tar.gz'), '--alias', IMAGE]);
      fs.rmSync(dir, { recursive: true, force: true });
      log('lxd: busybox image imported');
    }
    return new Lxd(pid, ours);
  }

  /**
   * A running container from the busybox image: `config` as `-c key=value`, `devices` added
   * before the first start (name → `type key=value…`). A container of that name is replaced.
   */
  launch(name: string, opts: { config?: Record<string, string>; devices?: Record<string, string[]> } = {}): LxdContainer {
    run('lxc', ['delete', '-f', name]);
    const config = Object.entries(opts.config ?? {}).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
    must('lxc', ['init', IMAGE, name, ...config]);
    const c = new LxdContainer(name);
    this.containers.push(c);
    for (const [dev, spec] of Object.entries(opts.devices ?? {})) must('lxc', ['config', 'device', 'add', name, dev, ...spec]);
    must('lxc', ['start', name]);
    return c;
  }

  /** Deletes the containers launched here, and shuts LXD down if it was started here. */
  stop(log: (s: string) => void): void {
    for (const c of this.containers) c.delete();
    if (this.ours) {
      const r = run('lxd', ['shutdown', '--timeout', '30'], { timeoutMs: 40_000 });
      log(`lxd: shut down (${r.status === 0 ? 'ok' : (r.stdout + r.stderr).trim()})`);
    }
  }
}

export class LxdContainer {
  constructor(readonly name: string) {}

  /** Host path of the container's root filesystem (dir pool: the files themselves, shifted on disk). */
  get rootfs(): string {
    return path.join(LXD_DIR, 'storage-pools', POOL, 'containers', this.name, 'rootfs');
  }

  /** The liblxc configuration LXD generated for the last start. */
  lxcConf(): string {
    return fs.readFileSync(`/var/log/lxd/${this.name}/lxc.conf`, 'utf8');
  }

  /** `lxc exec` as container root. */
  exec(argv: string[], opts: { input?: string; timeoutMs?: number } = {}): RunResult {
    return run('lxc', ['exec', this.name, '--env', 'PATH=/bin:/sbin:/usr/bin:/usr/sbin', '--', ...argv],
      { input: opts.input ?? '', timeoutMs: opts.timeoutMs ?? 60_000 });
  }

  /** exec() once more if liblxc lost the command's seccomp listener (listenerLost). Only for commands that may run twice. */
  execAgainIfListenerLost(argv: string[], opts: { input?: string; timeoutMs?: number } = {}): RunResult {
    const r = this.exec(argv, opts);
    if (!listenerLost(r)) return r;
    process.stderr.write(`# lxc exec ${argv.join(' ')}: the attach lost its seccomp listener; running it again\n`);
    return this.exec(argv, opts);
  }

  push(hostFile: string, pathInContainer: string, mode = '0755'): void {
    must('lxc', ['file', 'push', '-q', hostFile, `${this.name}${pathInContainer}`, '--mode', mode]);
  }

  /** `lxc config set`; an empty value unsets the key. */
  set(key: string, value: string): void {
    must('lxc', value === '' ? ['config', 'unset', this.name, key] : ['config', 'set', this.name, `${key}=${value}`]);
  }

  restart(): void {
    must('lxc', ['restart', '--force', this.name]);
  }

  delete(): void {
    run('lxc', ['delete', '-f', this.name]);
  }
}
