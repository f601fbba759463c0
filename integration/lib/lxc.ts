// Real-container test harness: hand-built busybox rootfs, unprivileged LXC
// containers started by host root, and a static probe binary run inside them.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  accessSync, chmodSync, constants, copyFileSync, existsSync, lchownSync, lstatSync,
  mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileStatic } from './gcc.js';

/** Host uid/gid of container root, and the size of the mapped range. */
export const HOST_ROOT_ID = 100000;
export const ID_RANGE = 65536;
/** The non-root `user` inside the container (host uid/gid 101000). */
export const USER_ID = 1000;
/** Where integration tests keep their containers and probe binaries. */
export const TEST_ROOT = '/var/lib/interceptd-test';
export const DEFAULT_LXCPATH = join(TEST_ROOT, 'lxc');

const BUSYBOX = '/bin/busybox';
const CONTAINER_PATH = '/bin:/sbin:/usr/bin:/usr/sbin';
const LXC_TOOLS = ['lxc-start', 'lxc-attach', 'lxc-wait', 'lxc-info', 'lxc-stop'] as const;

export interface AttachOptions {
  uid?: number;
  gid?: number;
  cwd?: string;
  env?: Record<string, string>;
  input?: string;
  timeoutMs?: number;
}

export interface AttachResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface ContainerOptions {
  name: string;
  lxcpath: string;
  rootfs?: string;
  config?: string[];
}

function which(cmd: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** True when an ELF file has a PT_INTERP header, i.e. needs a dynamic loader. */
export function isDynamicElf(file: string): boolean {
  const b = readFileSync(file);
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46) return false;
  const is64 = b[4] === 2;
  const phoff = is64 ? Number(b.readBigUInt64LE(0x20)) : b.readUInt32LE(0x1c);
  const phentsize = b.readUInt16LE(is64 ? 0x36 : 0x2a);
  const phnum = b.readUInt16LE(is64 ? 0x38 : 0x2c);
  for (let i = 0; i < phnum; i++) {
    const off = phoff + i * phentsize;
    if (off + 4 <= b.length && b.readUInt32LE(off) === 3) return true;
  }
  return false;
}

export function canRunContainers(): { ok: true } | { ok: false; reason: string } {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'container tests need root' };
  for (const tool of [...LXC_TOOLS, 'newuidmap', 'newgidmap']) {
    if (!which(tool)) return { ok: false, reason: `${tool} not found on PATH (install lxc and uidmap)` };
  }
  if (!existsSync(BUSYBOX)) return { ok: false, reason: `${BUSYBOX} missing (install busybox-static)` };
  if (isDynamicElf(BUSYBOX)) return { ok: false, reason: `${BUSYBOX} is dynamically linked (install busybox-static)` };
  return { ok: true };
}

/** Whether /etc/subuid or /etc/subgid gives root the whole mapped range. */
function rootHasSubids(file: string): boolean {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return false;
  }
  return text.split('\n').some((line) => {
    const [who, start, count] = line.trim().split(':');
    return (who === 'root' || who === '0') &&
      Number(start) <= HOST_ROOT_ID && Number(start) + Number(count) >= HOST_ROOT_ID + ID_RANGE;
  });
}

let cachedLxcEnv: NodeJS.ProcessEnv | undefined;

/**
 * Environment for the lxc-* tools. When newuidmap is on PATH, liblxc insists
 * on using it even as root, and it refuses a range /etc/subuid does not grant.
 * Without such an entry we hide newuidmap/newgidmap from PATH, so that liblxc
 * (as root) writes uid_map/gid_map itself.
 */
function lxcEnv(): NodeJS.ProcessEnv {
  if (cachedLxcEnv) return cachedLxcEnv;
  if (rootHasSubids('/etc/subuid') && rootHasSubids('/etc/subgid')) {
    cachedLxcEnv = process.env;
  } else {
    const path = (process.env.PATH ?? '').split(delimiter)
      .filter((d) => d && !existsSync(join(d, 'newuidmap')) && !existsSync(join(d, 'newgidmap')))
      .join(delimiter);
    cachedLxcEnv = { ...process.env, PATH: path };
  }
  return cachedLxcEnv;
}

/** Absolute path of an lxc tool, resolved with the caller's PATH (lxcEnv may drop /usr/bin). */
function lxcTool(tool: (typeof LXC_TOOLS)[number]): string {
  const p = which(tool);
  if (!p) throw new Error(`${tool} not found on PATH`);
  return p;
}

function chownTree(root: string, uid: number, gid: number): void {
  lchownSync(root, uid, gid);
  if (!lstatSync(root).isDirectory()) return;
  for (const entry of readdirSync(root)) chownTree(join(root, entry), uid, gid);
}

/** Builds a minimal busybox rootfs in `dir`, owned by container root (host uid 100000). */
export function buildRootfs(dir: string): void {
  const dirs = ['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'mnt', 'var', 'run',
    'usr/bin', 'usr/sbin', 'home/user'];
  for (const d of dirs) mkdirSync(join(dir, d), { recursive: true, mode: 0o755 });
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);

  const list = spawnSync(BUSYBOX, ['--list-full'], { encoding: 'utf8' });
  if (list.status !== 0) throw new Error(`busybox --list-full failed: ${list.stderr}`);
  for (const applet of list.stdout.split('\n').filter(Boolean)) {
    const link = join(dir, applet);
    if (!existsSync(link)) symlinkSync('/bin/busybox', link);
  }

  // busybox init reaps orphans and idles; the respawned sleep keeps it from
  // running its default inittab (rcS, getty on tty2-4).
  writeFileSync(join(dir, 'etc/inittab'), '::respawn:/bin/sleep 2147483647\n');
  writeFileSync(join(dir, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\nuser:x:1000:\n');
  writeFileSync(join(dir, 'etc/hostname'), 'itest\n');

  chownTree(dir, HOST_ROOT_ID, HOST_ROOT_ID);
  chownTree(join(dir, 'home/user'), HOST_ROOT_ID + USER_ID, HOST_ROOT_ID + USER_ID);
  chmodSync(dir, 0o755);
  chmodSync(join(dir, 'tmp'), 0o1777);
}

/**
 * Container root (host uid 100000) must be able to traverse every directory
 * above the rootfs, or liblxc fails with "Could not access ... grant it x access".
 */
function checkTraversable(path: string): void {
  for (let d = dirname(path); ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) {
      throw new Error(`${d} is not traversable by others (o+x); container root cannot reach ${path}`);
    }
    if (d === dirname(d)) return;
  }
}

function text(r: SpawnSyncReturns<string>): string {
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
}

export class Container {
  readonly name: string;
  readonly lxcpath: string;
  /** <lxcpath>/<name>: holds config, lxc.log and (by default) the rootfs. */
  readonly dir: string;
  readonly rootfs: string;
  readonly logFile: string;

  constructor(name: string, lxcpath: string, rootfs: string) {
    this.name = name;
    this.lxcpath = lxcpath;
    this.dir = join(lxcpath, name);
    this.rootfs = rootfs;
    this.logFile = join(this.dir, 'lxc.log');
  }

  private lxc(tool: (typeof LXC_TOOLS)[number], args: string[], timeoutMs = 60_000): SpawnSyncReturns<string> {
    const r = spawnSync(lxcTool(tool), ['-P', this.lxcpath, '-n', this.name, ...args], {
      encoding: 'utf8', env: lxcEnv(), timeout: timeoutMs, killSignal: 'SIGKILL',
    });
    if (r.error) throw r.error;
    return r;
  }

  /** Starts the container and waits until it is RUNNING, or throws with the log tail. */
  start(timeoutSec = 20): void {
    const started = this.lxc('lxc-start', ['-d'], (timeoutSec + 10) * 1000);
    // lxc-start -d can exit 0 for a container that then fails (e.g. no
    // seccomp proxy listening), so the state is what counts. Waiting for
    // STOPPED too makes a failed start fail fast instead of at the timeout.
    this.lxc('lxc-wait', ['-s', 'RUNNING|STOPPED', '-t', String(timeoutSec)], (timeoutSec + 10) * 1000);
    if (!this.running()) {
      throw new Error(`container ${this.name} did not reach RUNNING ` +
        `(lxc-start exit ${started.status}): ${text(started)}\n--- ${this.logFile} ---\n${this.logTail()}`);
    }
  }

  running(): boolean {
    return this.lxc('lxc-info', ['-s', '-H']).stdout.trim() === 'RUNNING';
  }

  initPid(): number {
    const r = this.lxc('lxc-info', ['-p', '-H']);
    const pid = Number.parseInt(r.stdout.trim(), 10);
    if (!(pid > 0)) throw new Error(`container ${this.name} has no init pid: ${text(r)}`);
    return pid;
  }

  private attachArgs(argv: string[], opts: AttachOptions): string[] {
    const args = ['-P', this.lxcpath, '-n', this.name, '--clear-env', '-v', `PATH=${CONTAINER_PATH}`];
    for (const [k, v] of Object.entries(opts.env ?? {})) args.push('-v', `${k}=${v}`);
    if (opts.uid !== undefined) args.push('-u', String(opts.uid));
    if (opts.gid !== undefined) args.push('-g', String(opts.gid));
    // lxc-attach has no working-directory option.
    const cmd = opts.cwd === undefined ? argv : ['/bin/sh', '-c', 'cd "$0" && exec "$@"', opts.cwd, ...argv];
    return [...args, '--', ...cmd];
  }

  /** Runs argv inside the container (all namespaces, clean env) and waits for it. */
  attach(argv: string[], opts: AttachOptions = {}): AttachResult {
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const r = spawnSync(lxcTool('lxc-attach'), this.attachArgs(argv, opts), {
      encoding: 'utf8', env: lxcEnv(), input: opts.input ?? '', timeout: timeoutMs,
      killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024,
    });
    const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
    if (r.error && !timedOut) throw r.error;
    // The command outlives a killed lxc-attach, orphaned to host pid 1.
    if (timedOut) this.killInside(1);
    const note = timedOut ? `\n[lxc-attach killed after ${timeoutMs} ms]` : '';
    return { status: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + note };
  }

  /** Like attach(), without blocking the event loop (for concurrent work). */
  attachAsync(argv: string[], opts: AttachOptions = {}): Promise<AttachResult> {
    const timeoutMs = opts.timeoutMs ?? 60_000;
    return new Promise((resolve, reject) => {
      const child = spawn(lxcTool('lxc-attach'), this.attachArgs(argv, opts), { env: lxcEnv() });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
      child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
      let killTimer: NodeJS.Timeout | undefined;
      // Kill the command first so that lxc-attach reaps it and exits; killing
      // lxc-attach first would orphan the command to host pid 1.
      const timer = setTimeout(() => {
        timedOut = true;
        if (child.pid) this.killInside(child.pid);
        killTimer = setTimeout(() => child.kill('SIGKILL'), 1000);
      }, timeoutMs);
      child.on('error', (err) => { clearTimeout(timer); clearTimeout(killTimer); reject(err); });
      child.on('close', (status) => {
        clearTimeout(timer);
        clearTimeout(killTimer);
        if (timedOut) stderr += `\n[lxc-attach killed after ${timeoutMs} ms]`;
        resolve({ status, stdout, stderr });
      });
      child.stdin.on('error', () => { /* the command may exit without reading its input */ });
      child.stdin.end(opts.input ?? '');
    });
  }

  /** SIGKILLs the container's processes whose (host) parent is `ppid`. */
  private killInside(ppid: number): void {
    let ns: string;
    try {
      ns = readlinkSync(`/proc/${this.initPid()}/ns/pid`);
    } catch {
      return; // container gone
    }
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (parent === ppid && readlinkSync(`/proc/${entry}/ns/pid`) === ns) process.kill(Number(entry), 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
  }

  /** Kills the container; a stopped container is fine. */
  stop(): void {
    if (!existsSync(join(this.dir, 'config')) || !this.running()) return;
    const r = this.lxc('lxc-stop', ['-k']);
    if (this.running()) throw new Error(`lxc-stop ${this.name} failed: ${text(r)}`);
  }

  /** Stops the container and removes <lxcpath>/<name> (a rootfs elsewhere is kept). */
  destroy(): void {
    this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * Host path of a file in the rootfs. Only for paths on the rootfs itself:
   * /dev, /proc and /sys are separate mounts inside the container.
   */
  hostPath(pathInContainer: string): string {
    return join(this.rootfs, pathInContainer);
  }

  /** Copies a host file into the rootfs, owned by container root. */
  copyIn(hostFile: string, pathInContainer: string, mode = 0o755): string {
    const dest = this.hostPath(pathInContainer);
    copyFileSync(hostFile, dest);
    chmodSync(dest, mode);
    lchownSync(dest, HOST_ROOT_ID, HOST_ROOT_ID);
    return dest;
  }

  logTail(lines = 40): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}

/**
 * Writes <lxcpath>/<name>/config and returns the (stopped) container. Any
 * previous container of that name is killed; with the default rootfs its
 * directory is rebuilt from scratch so no state leaks between runs.
 */
export function createContainer(opts: ContainerOptions): Container {
  const dir = join(opts.lxcpath, opts.name);
  const rootfs = opts.rootfs ?? join(dir, 'rootfs');
  const c = new Container(opts.name, opts.lxcpath, rootfs);
  c.stop();
  if (opts.rootfs === undefined) rmSync(dir, { recursive: true, force: true });

  mkdirSync(dir, { recursive: true });
  chmodSync(opts.lxcpath, 0o755);
  chmodSync(dir, 0o755);
  if (!existsSync(join(rootfs, 'bin/busybox'))) buildRootfs(rootfs);
  checkTraversable(rootfs);

  const config = [
    `lxc.uts.name = ${opts.name}`,
    `lxc.rootfs.path = dir:${rootfs}`,
    `lxc.idmap = u 0 ${HOST_ROOT_ID} ${ID_RANGE}`,
    `lxc.idmap = g 0 ${HOST_ROOT_ID} ${ID_RANGE}`,
    'lxc.net.0.type = empty',
    'lxc.mount.auto = proc:mixed sys:ro cgroup:mixed',
    'lxc.autodev = 1',
    'lxc.init.cmd = /sbin/init',
    // No console pty: nobody reads it, and busybox init falls back to /dev/null.
    'lxc.console.path = none',
    `lxc.log.file = ${c.logFile}`,
    'lxc.log.level = DEBUG',
    ...(opts.config ?? []),
  ];
  writeFileSync(join(dir, 'config'), config.join('\n') + '\n');
  return c;
}

/** integration/probe/<file>, from integration/lib/ (tap runs the .ts) or dist/integration/lib/ (tsc output). */
function probeFile(file: string): string {
  const candidates = [`../probe/${file}`, `../../../integration/probe/${file}`]
    .map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
}

function compileProbe(outDir: string, name: string, extraFlags: string[], probeSource = probeFile('probe.c')): string {
  return compileStatic(probeSource, join(outDir, name), [...extraFlags, '-pthread']);
}

/** Builds (if stale) the static x86_64 probe; returns <outDir>/probe. */
export function buildProbe(outDir: string): string {
  return compileProbe(outDir, 'probe', []);
}

/** Builds (if stale) the static i386 probe; returns <outDir>/probe32. */
export function buildProbe32(outDir: string): string {
  return compileProbe(outDir, 'probe32', ['-m32']);
}

/** Builds (if stale) the static case list of the LXD differential test; returns <outDir>/lxd-diff. */
export function buildLxdDiffProbe(outDir: string): string {
  return compileProbe(outDir, 'lxd-diff', [], probeFile('lxd-diff.c'));
}
