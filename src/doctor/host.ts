// Gathers the facts `interceptd doctor` judges: files, tools, sockets, the helper. Every
// probe is bounded (timeouts on child processes) and leaves nothing behind.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parsePolicyText, validContainerName } from '../../compat/policy-source.js';
import { SyscallError } from '../../native/errors.js';
import { DEFAULT_HELPER, HelperClient } from '../../native/helper.js';
import { closeFd, connectUnix } from '../../native/unix-socket.js';
import { DEFAULT_KEEPER } from '../keeper.js';
import { KNOWN_SOCKETS, LXC_EXTENSIONS, LXD_SOCKETS, type Facts, type FileFact, type LxdFacts, type Probe } from './checks.js';
import { LxdClient } from '../../compat/lxd/client.js';
import { lxcName } from '../../compat/lxd/source.js';
import { lxcConfPath, lxdOwnProxy, overrideLine, ourProxy, serving } from '../../compat/lxd/override.js';
import { controlRequest } from '../control.js';
import { probeMountSetattr, probeNotifSizes, probePidfdOpen, probePidfdThread } from './kernel.js';

export function fileFact(p: string): FileFact | undefined {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return undefined;
  }
  const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSocket() ? 'socket' : 'other';
  return { kind, uid: st.uid, mode: st.mode & 0o7777 };
}

/** The first line a tool prints for `--version`, or undefined when it cannot run. */
export function toolVersion(cmd: string, args = ['--version']): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5000 });
  if (r.error !== undefined || r.status !== 0) return undefined;
  const line = `${r.stdout}\n${r.stderr}`.split('\n').find((l) => l.trim() !== '');
  return line?.trim();
}

/** liblxc.so.1's path from `ldconfig -p` output (x86-64 entry first). */
export function liblxcFromLdconfig(text: string): string | undefined {
  const entries = text
    .split('\n')
    .map((l) => /^\s*liblxc\.so\.1 \(([^)]*)\) => (\S+)/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null);
  return (entries.find((m) => m[1]!.includes('x86-64')) ?? entries[0])?.[2];
}

/** Which API extension names a liblxc binary holds, each as a whole NUL-terminated string. */
export function extensionsIn(lib: Buffer, names: readonly string[] = LXC_EXTENSIONS): string[] {
  return names.filter((n) => lib.includes(Buffer.from(`\0${n}\0`, 'latin1')));
}

function lxcFacts(): Facts['lxc'] {
  const version = toolVersion('lxc-start');
  let ldconfig = spawnSync('ldconfig', ['-p'], { encoding: 'utf8', timeout: 5000 });
  if (ldconfig.error !== undefined) ldconfig = spawnSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8', timeout: 5000 });
  const library = ldconfig.status === 0 ? liblxcFromLdconfig(ldconfig.stdout) : undefined;
  let extensions: string[] = [];
  try {
    if (library !== undefined) extensions = extensionsIn(fs.readFileSync(library));
  } catch {
    // unreadable: reported as missing extensions
  }
  return { version, library, extensions };
}

export function cgroupFacts(root = '/sys/fs/cgroup'): Facts['cgroup'] {
  const controllers = (dir: string): string[] | undefined => {
    try {
      return fs.readFileSync(path.join(dir, 'cgroup.controllers'), 'utf8').split(/\s+/).filter(Boolean);
    } catch {
      return undefined;
    }
  };
  const atRoot = controllers(root);
  const unified = atRoot === undefined ? controllers(path.join(root, 'unified')) : undefined;
  let v1 = false;
  try {
    // Any v1 hierarchy has a directory with a cgroup.procs but no cgroup.controllers.
    v1 =
      atRoot === undefined &&
      fs.readdirSync(root).some((d) => d !== 'unified' && fs.existsSync(path.join(root, d, 'cgroup.procs')));
  } catch {
    v1 = false;
  }
  return { v1, v2: atRoot !== undefined ? 'root' : unified !== undefined ? 'unified' : undefined, v2Controllers: atRoot ?? unified ?? [] };
}

function binaryFact(p: string): Facts['helper'] {
  const file = fileFact(p);
  return { path: p, file, executable: file !== undefined && (file.mode & 0o111) !== 0 };
}

/** Starts the helper as the daemon does, pings it, stops it. */
export async function pingHelper(binary: string, timeoutMs = 3000): Promise<Facts['helperPing']> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'interceptd-doctor-'));
  const said: string[] = [];
  const log = {
    info: () => {},
    warn: (obj: object) => {
      const text = (obj as { helper?: unknown }).helper;
      if (typeof text === 'string') said.push(text);
    },
    error: (obj: object) => {
      const err = (obj as { err?: unknown }).err;
      if (err instanceof Error) said.push(err.message);
    },
  };
  const client = new HelperClient({ binary, deviceDir: path.join(tmp, 'dev'), log });
  const started = process.hrtime.bigint();
  try {
    await client.ping(timeoutMs);
    return { ok: true, ms: Math.max(1, Math.round(Number(process.hrtime.bigint() - started) / 1e6)) };
  } catch (err) {
    // The helper's last words arrive on its stderr just after it exits.
    await new Promise((r) => setTimeout(r, 100));
    return { ok: false, reason: [(err as Error).message, ...said].join(': ') };
  } finally {
    client.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export function connectProbe(socketPath: string): Probe {
  try {
    closeFd(connectUnix(socketPath));
    return { ok: true };
  } catch (err) {
    return { ok: false, errno: err instanceof SyscallError ? err.errno : 0 };
  }
}

export function policyFacts(configDir: string): Facts['policies'] {
  const dir = path.join(configDir, 'containers');
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.yaml')).sort();
  } catch {
    return [];
  }
  return names.map((file) => {
    if (!validContainerName(file.slice(0, -'.yaml'.length))) return { file, errors: ['not a container name: the daemon ignores it'] };
    try {
      const parsed = parsePolicyText(fs.readFileSync(path.join(dir, file), 'utf8'));
      return { file, errors: parsed.ok ? [] : parsed.errors };
    } catch (err) {
      return { file, errors: [(err as Error).message] };
    }
  });
}

function readNumber(file: string): number | undefined {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Who serves each LXD container that intercepts, and whether the running daemon follows LXD. */
export async function lxdFacts(socket: string, stateDir: string): Promise<LxdFacts> {
  const lxdDir = path.dirname(socket);
  let instances;
  try {
    instances = await new LxdClient(socket, 3000).instances();
  } catch (err) {
    return { socket, reachable: false, error: (err as Error).message };
  }
  const ours = ourProxy(stateDir);
  const containers = instances
    .filter((i) => i.type === 'container')
    .map((i) => {
      const name = lxcName(i.project, i.name);
      let conf: string | undefined;
      if (i.status === 'Running') {
        try {
          conf = fs.readFileSync(lxcConfPath(lxdDir, name), 'utf8');
        } catch {
          conf = '';
        }
      }
      return { name, serving: serving(i.expandedConfig, conf, ours, lxdOwnProxy(lxdDir)) };
    })
    .filter((c) => c.serving !== 'none');
  let daemonFollows: boolean | undefined;
  try {
    const st = await controlRequest(stateDir, { cmd: 'status' }, 1000);
    daemonFollows = st.ok ? st.lxd !== undefined : undefined;
  } catch {
    daemonFollows = undefined;
  }
  return { socket, reachable: true, containers, daemonFollows, line: overrideLine(stateDir) };
}

export interface GatherOptions {
  readonly stateDir: string;
  readonly configDir: string;
  readonly helperBinary?: string;
  readonly keeperBinary?: string;
}

export async function gatherFacts(opts: GatherOptions): Promise<Facts> {
  const helper = binaryFact(opts.helperBinary ?? DEFAULT_HELPER);
  const sockets = KNOWN_SOCKETS.flatMap((name) => {
    const file = fileFact(path.join(opts.stateDir, name));
    return file === undefined ? [] : [{ name, file }];
  });
  const lxdSockets = LXD_SOCKETS.filter((p) => fileFact(p)?.kind === 'socket');
  return {
    lxd: lxdSockets[0] !== undefined ? await lxdFacts(lxdSockets[0], opts.stateDir) : undefined,
    root: process.getuid?.() === 0,
    kernelRelease: os.release(),
    notifSizes: probeNotifSizes(),
    pidfdOpen: probePidfdOpen(),
    pidfdThread: probePidfdThread(),
    mountSetattrErrno: probeMountSetattr(),
    maxUserNamespaces: readNumber('/proc/sys/user/max_user_namespaces'),
    lxc: lxcFacts(),
    runc: toolVersion('runc'),
    crun: toolVersion('crun'),
    cgroup: cgroupFacts(),
    helper,
    keeper: binaryFact(opts.keeperBinary ?? DEFAULT_KEEPER),
    helperPing: helper.executable ? await pingHelper(helper.path) : { ok: false, reason: `${helper.path} is missing or not executable` },
    stateDir: { path: opts.stateDir, file: fileFact(opts.stateDir) },
    sockets,
    daemon: connectProbe(path.join(opts.stateDir, 'seccomp.socket')),
    configDir: { path: opts.configDir, exists: fileFact(opts.configDir)?.kind === 'dir' },
    policies: policyFacts(opts.configDir),
    lxdSockets,
  };
}
