// OCI containers (runc) for the bench: a busybox bundle in a user namespace whose
// seccomp listener goes to interceptd's oci.socket or to the C supervisor.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { HOST_ROOT_ID, ID_RANGE, buildRootfs } from '../integration/lib/lxc.js';
import { cli } from '../integration/lib/daemon.js';
import { BENCH_DIR, KEYS, XATTR_DIR, type BenchCase } from './cases.js';
import { benchTmpfs, releaseTmpfs, tmpfsDir } from './lib/tmpfs.js';
import { CALLER_PATH, callerArgv, parseCallerOutput, type CallerRun, type Target, type Window } from './target.js';

const CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_KILL', 'CAP_MKNOD', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SYS_ADMIN', 'CAP_SYS_NICE'];

function bundleConfig(hostname: string, benchFs: string): object {
  const caps = { bounding: CAPS, effective: CAPS, permitted: CAPS };
  const idmap = [{ containerID: 0, hostID: HOST_ROOT_ID, size: ID_RANGE }];
  return {
    ociVersion: '1.0.2',
    process: { terminal: false, user: { uid: 0, gid: 0 }, args: ['/bin/sleep', '2147483647'], env: ['PATH=/bin:/sbin'], cwd: '/', capabilities: caps },
    root: { path: 'rootfs', readonly: false },
    hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755', 'size=65536k'] },
      { destination: BENCH_DIR, type: 'bind', source: benchFs, options: ['rbind', 'rw'] },
    ],
    linux: {
      uidMappings: idmap,
      gidMappings: idmap,
      // A network namespace with only lo: nothing leaves the machine.
      namespaces: ['pid', 'ipc', 'uts', 'mount', 'user', 'network'].map((type) => ({ type })),
    },
  };
}

export class Runc {
  constructor(readonly root: string) {}

  private sync(args: string[]): { status: number | null; out: string } {
    const r = spawnSync('runc', ['--root', this.root, ...args], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
    return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
  }

  start(id: string, bundle: string, logFile: string): void {
    const out = fs.openSync(logFile, 'w');
    try {
      const r = spawnSync('runc', ['--root', this.root, 'run', '-d', '--bundle', bundle, id], { stdio: ['ignore', out, out], timeout: 60_000, killSignal: 'SIGKILL' });
      if (r.status !== 0) throw new Error(`runc run ${id} failed: ${fs.readFileSync(logFile, 'utf8')}`);
    } finally {
      fs.closeSync(out);
    }
  }

  exec(id: string, argv: string[], timeoutMs: number): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn('runc', ['--root', this.root, 'exec', id, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', reject);
      child.on('close', (status) => {
        clearTimeout(timer);
        resolve({ status, stdout, stderr });
      });
    });
  }

  destroy(id: string): void {
    this.sync(['kill', id, 'KILL']);
    this.sync(['delete', '--force', id]);
    releaseTmpfs(tmpfsDir(id));
  }
}

/**
 * A bundle in `dir` wired by `interceptd oci-config` to the daemon in `stateDir`;
 * with `listenerPath`, the listener goes there instead (the C supervisor).
 */
export function createBundle(dir: string, id: string, stateDir: string, caller: string, listenerPath?: string): string {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const rootfs = path.join(dir, 'rootfs');
  buildRootfs(rootfs);
  fs.mkdirSync(path.join(rootfs, BENCH_DIR), { recursive: true });
  const benchFs = benchTmpfs(id);
  const opaque = path.join(benchFs, path.relative(BENCH_DIR, XATTR_DIR));
  fs.mkdirSync(opaque);
  fs.chownSync(opaque, HOST_ROOT_ID, HOST_ROOT_ID);
  const dest = path.join(rootfs, CALLER_PATH);
  fs.copyFileSync(caller, dest);
  fs.chmodSync(dest, 0o755);
  fs.lchownSync(dest, HOST_ROOT_ID, HOST_ROOT_ID);
  const configFile = path.join(dir, 'config.json');
  fs.writeFileSync(configFile, `${JSON.stringify(bundleConfig(id, benchFs), null, 2)}\n`);
  const r = cli(['oci-config', dir, '--state-dir', stateDir, ...KEYS.flatMap((k) => ['--set', k])]);
  if (r.status !== 0) throw new Error(`oci-config failed: ${r.stderr}`);
  if (listenerPath !== undefined) {
    // A text edit: JSON.parse would round the filter's 64-bit argument values.
    const text = fs.readFileSync(configFile, 'utf8');
    const ours = JSON.stringify(path.resolve(stateDir, 'oci.socket'));
    if (!text.includes(ours)) throw new Error(`oci-config wrote no listenerPath ${ours}`);
    fs.writeFileSync(configFile, text.replace(ours, JSON.stringify(listenerPath)));
  }
  return dir;
}

export class OciTarget implements Target {
  constructor(
    readonly label: string,
    private readonly runc: Runc,
    readonly id: string,
    readonly servingPid: number,
    private readonly accepts: (c: BenchCase) => boolean = () => true,
  ) {}

  supports(c: BenchCase): boolean {
    return this.accepts(c);
  }

  async run(c: BenchCase, warmup: number, n: number, window?: Window): Promise<CallerRun> {
    const r = await this.runc.exec(this.id, callerArgv(c, warmup, n, window), 180_000);
    return parseCallerOutput(`OCI container ${this.id}`, r.status, r.stdout, r.stderr);
  }
}
