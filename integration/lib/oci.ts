// Real OCI containers (Debian's runc and crun) wired to a real interceptd: a busybox
// bundle in a user namespace (ids 0… → 100000…, 65536 of them), a fresh network
// namespace with only lo, the static probe, and the runtime's own command line.

import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import { HOST_ROOT_ID, ID_RANGE, TEST_ROOT, buildProbe, buildRootfs, isDynamicElf } from './lxc.js';
import { cli, freshDir, startDaemon, type DaemonHandle } from './daemon.js';
import type { ProbeResult } from './scenario.js';

export type RuntimeName = 'runc' | 'crun';

const BUSYBOX = '/bin/busybox';
const PATH_IN_CONTAINER = 'PATH=/bin:/sbin:/usr/bin:/usr/sbin';
/** Container root gets LXC's unprivileged set: everything, inside its own user namespace. */
const CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SYS_CHROOT', 'CAP_MKNOD',
  'CAP_AUDIT_WRITE', 'CAP_SETFCAP', 'CAP_SYS_ADMIN', 'CAP_SYS_NICE',
];
export const MEMORY_LIMIT = 256 * 1024 * 1024;

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d !== '' && fs.existsSync(path.join(d, cmd)));
}

export function canRunOci(runtime: RuntimeName): { ok: true } | { ok: false; reason: string } {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'OCI container tests need root' };
  if (!onPath(runtime)) return { ok: false, reason: `${runtime} not found on PATH (apt-get install ${runtime})` };
  if (!fs.existsSync(BUSYBOX) || isDynamicElf(BUSYBOX)) return { ok: false, reason: `${BUSYBOX} missing or dynamic (install busybox-static)` };
  if (!onPath('gcc')) return { ok: false, reason: 'gcc not found (the probe is built at test time)' };
  return { ok: true };
}

/** Returns false (after skipping, or failing in CI) when this runtime cannot run here. */
export function requireOci(t: Test, runtime: RuntimeName): boolean {
  const can = canRunOci(runtime);
  if (can.ok) return true;
  if (process.env.CI) t.fail(`OCI container tests cannot run in CI: ${can.reason}`);
  else {
    t.comment(`OCI container tests skipped: ${can.reason}`);
    t.skip(`${runtime}: ${can.reason}`, () => {});
  }
  return false;
}

/** The bundle's config.json before `interceptd oci-config` adds interception. */
export function bundleConfig(hostname: string): object {
  const caps = { bounding: CAPS, effective: CAPS, permitted: CAPS };
  const idmap = [{ containerID: 0, hostID: HOST_ROOT_ID, size: ID_RANGE }];
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ['/bin/sleep', '2147483647'],
      env: [PATH_IN_CONTAINER],
      cwd: '/',
      capabilities: caps,
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: false },
    hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    ],
    linux: {
      uidMappings: idmap,
      gidMappings: idmap,
      namespaces: ['pid', 'ipc', 'uts', 'mount', 'user', 'network'].map((type) => ({ type })),
      resources: { memory: { limit: MEMORY_LIMIT } },
    },
  };
}

/** A fresh bundle in `dir`: busybox rootfs owned by container root, the probe, config.json. */
export function createBundle(dir: string, hostname: string): string {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (let d = dir; d !== path.dirname(d); d = path.dirname(d)) fs.chmodSync(d, fs.statSync(d).mode | 0o005);
  const rootfs = path.join(dir, 'rootfs');
  buildRootfs(rootfs);
  const probe = path.join(rootfs, 'bin/probe');
  fs.copyFileSync(buildProbe(path.join(TEST_ROOT, 'bin')), probe);
  fs.chmodSync(probe, 0o755);
  fs.lchownSync(probe, HOST_ROOT_ID, HOST_ROOT_ID);
  fs.writeFileSync(path.join(dir, 'config.json'), `${JSON.stringify(bundleConfig(hostname), null, 2)}\n`);
  return dir;
}

/**
 * crun 1.8 refuses hybrid cgroups while cgroup2 has any controller; such hosts (not
 * Debian's default) get crun in a mount namespace without the cgroup2 mount, so it
 * uses cgroup v1 only.
 */
function crunNeedsV1View(): boolean {
  try {
    return fs.readFileSync('/sys/fs/cgroup/unified/cgroup.controllers', 'utf8').trim() !== '';
  } catch {
    return false;
  }
}

export interface ExecOptions {
  readonly cwd?: string;
  readonly user?: string;
  readonly timeoutMs?: number;
}

export interface ExecResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class OciRuntime {
  private readonly v1View: boolean;

  constructor(
    readonly name: RuntimeName,
    /** The runtime's state directory (--root), private to the test. */
    readonly root: string,
  ) {
    this.v1View = name === 'crun' && crunNeedsV1View();
  }

  private command(args: string[]): [string, string[]] {
    const full = ['--root', this.root, ...args];
    if (!this.v1View) return [this.name, full];
    return ['unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'umount /sys/fs/cgroup/unified && exec "$0" "$@"', this.name, ...full]];
  }

  private run(args: string[], timeoutMs = 60_000): SpawnSyncReturns<string> {
    const [cmd, argv] = this.command(args);
    const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' });
    if (r.error) throw r.error;
    return r;
  }

  /** Starts the container detached; its init's stdio go to `logFile` (a pipe would never close). */
  start(id: string, bundle: string, logFile: string): void {
    const out = fs.openSync(logFile, 'w');
    try {
      const [cmd, argv] = this.command(['run', '-d', '--bundle', bundle, id]);
      const r = spawnSync(cmd, argv, { stdio: ['ignore', out, out], timeout: 60_000, killSignal: 'SIGKILL' });
      if (r.status !== 0) throw new Error(`${this.name} run ${id} failed (${r.status ?? r.signal}): ${fs.readFileSync(logFile, 'utf8')}`);
    } finally {
      fs.closeSync(out);
    }
  }

  private execArgs(id: string, argv: string[], opts: ExecOptions): string[] {
    return ['exec', ...(opts.cwd ? ['--cwd', opts.cwd] : []), ...(opts.user ? ['--user', opts.user] : []), id, ...argv];
  }

  exec(id: string, argv: string[], opts: ExecOptions = {}): ExecResult {
    const r = this.run(this.execArgs(id, argv, opts), opts.timeoutMs ?? 30_000);
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** Like exec(), without blocking the event loop. */
  execAsync(id: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const [cmd, args] = this.command(this.execArgs(id, argv, opts));
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
      child.on('error', reject);
      child.on('close', (status) => {
        clearTimeout(timer);
        resolve({ status, stdout, stderr });
      });
    });
  }

  /** Kills and deletes the container; a missing one is fine. */
  destroy(id: string): void {
    this.run(['kill', id, 'KILL']);
    this.run(['delete', '--force', id]);
  }

  initPid(id: string): number {
    const r = this.run(['state', id]);
    return (JSON.parse(r.stdout) as { pid: number }).pid;
  }
}

/** The probe's last JSON line. */
export function probeResult(r: ExecResult): ProbeResult {
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as ProbeResult;
  } catch {
    throw new Error(`probe printed no result (status ${r.status}): ${r.stdout}${r.stderr}`);
  }
}

export interface OciScenario {
  readonly id: string;
  readonly runtime: OciRuntime;
  readonly bundle: string;
  readonly daemon: DaemonHandle;
  /** Runs the probe in the container (a `runtime exec`) and returns its result. */
  probe(args: string[], opts?: ExecOptions): ProbeResult;
  exec(argv: string[], opts?: ExecOptions): ExecResult;
  hostPath(pathInContainer: string): string;
  /** Starts a new interceptd on the same directories (after the test killed it). */
  restartDaemon(): Promise<void>;
  teardown(): Promise<void>;
}

/** interceptd, then a bundle wired with `interceptd oci-config … --set KEY=VALUE…`, then the container. */
export async function startOciScenario(runtimeName: RuntimeName, id: string, sets: string[]): Promise<OciScenario> {
  const stateDir = freshDir(`/run/interceptd-test/${id}`);
  const configDir = freshDir(path.join(TEST_ROOT, 'oci', `${id}-etc`));
  const bundle = createBundle(path.join(TEST_ROOT, 'oci', id), id);
  const wired = cli(['oci-config', bundle, '--state-dir', stateDir, ...sets.flatMap((s) => ['--set', s])]);
  if (wired.status !== 0) throw new Error(`oci-config failed: ${wired.stderr}`);
  const runtime = new OciRuntime(runtimeName, freshDir(`/run/interceptd-test/${id}-runtime`));
  runtime.destroy(id);
  let daemon = await startDaemon({ stateDir, configDir });
  try {
    runtime.start(id, bundle, path.join(TEST_ROOT, 'oci', `${id}.log`));
  } catch (err) {
    await daemon.stop();
    throw err;
  }
  const exec = (argv: string[], opts: ExecOptions = {}): ExecResult => runtime.exec(id, argv, opts);
  return {
    id,
    runtime,
    bundle,
    get daemon() {
      return daemon;
    },
    probe: (args, opts) => probeResult(exec(['/bin/probe', ...args], opts)),
    exec,
    hostPath: (p) => path.join(bundle, 'rootfs', p),
    async restartDaemon() {
      await daemon.stop();
      daemon = await startDaemon({ stateDir, configDir });
    },
    async teardown() {
      try {
        runtime.destroy(id);
      } finally {
        await daemon.stop();
        fs.rmSync(stateDir, { recursive: true, force: true });
        fs.rmSync(runtime.root, { recursive: true, force: true });
      }
    },
  };
}
