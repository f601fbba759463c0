// `interceptd doctor`: what the host offers (facts, gathered elsewhere) → one verdict per
// check, with a short reason. Pure: the tests feed it invented hosts.

import { errnoName } from '../../native/errors.js';
import type { Serving } from '../../compat/lxd/override.js';
import { LXD_SOCKETS } from '../../compat/lxd/client.js';

export type Verdict = 'ok' | 'warn' | 'FAIL';

export interface CheckResult {
  readonly check: string;
  readonly verdict: Verdict;
  readonly detail: string;
}

/** A probe that worked, or the errno it failed with. */
export type Probe = { readonly ok: true } | { readonly ok: false; readonly errno: number };

/** What lstat said about a path (undefined: it does not exist). */
export interface FileFact {
  readonly kind: 'file' | 'dir' | 'socket' | 'other';
  readonly uid: number;
  /** Permission bits (mode & 0o7777). */
  readonly mode: number;
}

export interface Facts {
  readonly root: boolean;
  readonly kernelRelease: string;
  /** SECCOMP_GET_NOTIF_SIZES: the sizes, or the errno the call failed with. */
  readonly notifSizes: { readonly notif: number; readonly resp: number; readonly data: number } | { readonly errno: number };
  /** pidfd_open on our own pid. */
  readonly pidfdOpen: Probe;
  /** pidfd_open(PIDFD_THREAD) on one of our non-leader threads; undefined when there was none to try. */
  readonly pidfdThread: Probe | undefined;
  /** The errno of mount_setattr with invalid arguments: ENOSYS means the call does not exist. */
  readonly mountSetattrErrno: number;
  /** /proc/sys/user/max_user_namespaces (undefined: unreadable). */
  readonly maxUserNamespaces: number | undefined;
  readonly lxc: {
    /** `lxc-start --version`, undefined when lxc-start is missing. */
    readonly version: string | undefined;
    /** liblxc.so.1 as ldconfig knows it. */
    readonly library: string | undefined;
    /** The seccomp API extension names found in the library. */
    readonly extensions: readonly string[];
  };
  /** `runc --version` / `crun --version` (undefined: not installed). */
  readonly runc: string | undefined;
  readonly crun: string | undefined;
  readonly cgroup: {
    /** A v1 hierarchy is mounted under /sys/fs/cgroup. */
    readonly v1: boolean;
    /** Where cgroup2 is: /sys/fs/cgroup itself, /sys/fs/cgroup/unified (hybrid), or nowhere. */
    readonly v2: 'root' | 'unified' | undefined;
    /** cgroup2's `cgroup.controllers`. */
    readonly v2Controllers: readonly string[];
  };
  readonly helper: { readonly path: string; readonly file: FileFact | undefined; readonly executable: boolean };
  readonly keeper: { readonly path: string; readonly file: FileFact | undefined; readonly executable: boolean };
  /** The helper started and answered a ping (in ms), or why not. */
  readonly helperPing: { readonly ok: true; readonly ms: number } | { readonly ok: false; readonly reason: string };
  readonly stateDir: { readonly path: string; readonly file: FileFact | undefined };
  /** The state dir's sockets that exist. */
  readonly sockets: readonly { readonly name: string; readonly file: FileFact }[];
  /** A SOCK_SEQPACKET connect to <state-dir>/seccomp.socket. */
  readonly daemon: Probe;
  readonly configDir: { readonly path: string; readonly exists: boolean };
  /** Every <config-dir>/containers/*.yaml, with its parse errors (none: it is fine). */
  readonly policies: readonly { readonly file: string; readonly errors: readonly string[] }[];
  /** The LXD/Incus unix sockets that exist. */
  readonly lxdSockets: readonly string[];
  /** What the first of those says about its containers (undefined: no socket). */
  readonly lxd?: LxdFacts;
}

export type LxdFacts =
  | {
      readonly socket: string;
      readonly reachable: true;
      /** Containers with an intercept key, and who serves them. */
      readonly containers: readonly { readonly name: string; readonly serving: Serving }[];
      /** The running daemon follows LXD (`--lxd-socket`); undefined when no daemon answered. */
      readonly daemonFollows: boolean | undefined;
      /** The override line for this state dir, for the advice. */
      readonly line: string;
    }
  | { readonly socket: string; readonly reachable: false; readonly error: string };

export const KNOWN_SOCKETS = ['seccomp.socket', 'oci.socket', 'control.socket'] as const;
export { LXD_SOCKETS };
export const LXC_EXTENSIONS = ['seccomp_notify', 'seccomp_proxy_send_notify_fd', 'seccomp_notify_fd_active'] as const;

const ENOSYS = 38;
const EBADF = 9;
const EINVAL = 22;

/** `[major, minor]` of a kernel release such as "6.1.0-18-amd64" ([0, 0] if unreadable). */
export function kernelVersion(release: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

export function kernelAtLeast(release: string, major: number, minor: number): boolean {
  const [a, b] = kernelVersion(release);
  return a > major || (a === major && b >= minor);
}

/** The first dotted version number in a tool's output ("runc version 1.1.5+ds1" → [1, 1, 5]). */
export function parseVersion(text: string | undefined): number[] | undefined {
  const m = text === undefined ? null : /(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

function versionBelow(v: number[], min: number[]): boolean {
  for (let i = 0; i < min.length; i++) {
    const a = v[i] ?? 0;
    if (a !== min[i]) return a < min[i]!;
  }
  return false;
}

const octal = (mode: number): string => mode.toString(8).padStart(4, '0');

type Outcome = readonly [Verdict, string];

export interface Check {
  readonly name: string;
  /** The daemon cannot work without it: a miss is FAIL (and a non-zero exit), not warn. */
  readonly required?: boolean;
  evaluate(f: Facts): Outcome;
}

/** A kernel feature known only by version (it cannot be probed without a seccomp listener). */
function byVersion(name: string, major: number, minor: number, without: string, required = false): Check {
  return {
    name,
    required,
    evaluate: (f) =>
      kernelAtLeast(f.kernelRelease, major, minor)
        ? ['ok', `kernel ${f.kernelRelease} ≥ ${major}.${minor}`]
        : [required ? 'FAIL' : 'warn', `kernel ${f.kernelRelease} < ${major}.${minor}: ${without}`],
  };
}

function binary(name: string, pick: (f: Facts) => Facts['helper'], why: string, required = false): Check {
  return {
    name,
    required,
    evaluate: (f) => {
      const b = pick(f);
      const bad = required ? 'FAIL' : 'warn';
      if (b.file === undefined) return [bad, `${b.path} is missing: ${why} (build it with \`make -C native/helper\` or reinstall)`];
      if (b.file.kind !== 'file' || !b.executable) return [bad, `${b.path} is not an executable file`];
      return ['ok', b.path];
    },
  };
}

export const CHECKS: readonly Check[] = [
  {
    name: 'root',
    evaluate: (f) => (f.root ? ['ok', 'running as root'] : ['warn', 'not root: `serve` needs root, and the helper and state checks below fail without it']),
  },
  {
    name: 'seccomp user notification',
    required: true,
    evaluate: (f) => {
      const s = f.notifSizes;
      if ('errno' in s) return ['FAIL', `seccomp(SECCOMP_GET_NOTIF_SIZES) failed: ${errnoName(s.errno)} (needs Linux ≥ 5.0 with CONFIG_SECCOMP_FILTER)`];
      const sizes = `${s.notif}/${s.resp}/${s.data}`;
      return sizes === '80/24/64' ? ['ok', 'SECCOMP_GET_NOTIF_SIZES: 80/24/64'] : ['FAIL', `unexpected struct sizes ${sizes} (expected 80/24/64)`];
    },
  },
  byVersion('CONTINUE', 5, 5, 'declined calls cannot be handed back to the kernel', true),
  byVersion('ADDFD', 5, 9, 'bpf program loads are declined (CONTINUE)'),
  byVersion('ADDFD_FLAG_SEND', 5, 14, 'a bpf program fd is installed, then answered separately (not atomic)'),
  {
    name: 'pidfd_open',
    required: true,
    evaluate: (f) =>
      f.pidfdOpen.ok ? ['ok', 'pidfd_open on our own pid works'] : ['FAIL', `pidfd_open failed: ${errnoName(f.pidfdOpen.errno)} (needs Linux ≥ 5.3)`],
  },
  {
    name: 'PIDFD_THREAD',
    evaluate: (f) => {
      const without = 'a bpf attach from a non-leader thread is declined; other calls use /proc/<tid> and ID_VALID';
      if (f.pidfdThread === undefined) {
        return kernelAtLeast(f.kernelRelease, 6, 9)
          ? ['ok', `kernel ${f.kernelRelease} ≥ 6.9 (no thread to try it on)`]
          : ['warn', `kernel ${f.kernelRelease} < 6.9: ${without}`];
      }
      return f.pidfdThread.ok
        ? ['ok', 'pidfd_open(PIDFD_THREAD) on a non-leader thread works']
        : ['warn', `pidfd_open(PIDFD_THREAD) failed: ${errnoName(f.pidfdThread.errno)} (Linux < 6.9): ${without}`];
    },
  },
  {
    name: 'idmapped mounts',
    evaluate: (f) =>
      f.mountSetattrErrno === ENOSYS
        ? ['warn', 'mount_setattr does not exist (Linux < 5.12): security.syscalls.intercept.mount.shift cannot work']
        : f.mountSetattrErrno === EINVAL || f.mountSetattrErrno === EBADF
          ? ['ok', 'mount_setattr exists']
          : ['warn', `mount_setattr probe failed: ${errnoName(f.mountSetattrErrno)} (blocked by a seccomp filter?)`],
  },
  {
    name: 'user namespaces',
    evaluate: (f) =>
      f.maxUserNamespaces === undefined
        ? ['warn', '/proc/sys/user/max_user_namespaces is unreadable']
        : f.maxUserNamespaces > 0
          ? ['ok', `max_user_namespaces = ${f.maxUserNamespaces}`]
          : ['warn', 'max_user_namespaces = 0: unprivileged containers cannot start'],
  },
  {
    name: 'liblxc',
    evaluate: ({ lxc }) => {
      if (lxc.version === undefined && lxc.library === undefined) return ['warn', 'LXC is not installed: only OCI containers can be served'];
      const where = `${lxc.version ?? 'unknown version'}${lxc.library !== undefined ? `, ${lxc.library}` : ', liblxc.so.1 not found by ldconfig'}`;
      const v = parseVersion(lxc.version);
      if (v !== undefined && versionBelow(v, [3, 2])) return ['warn', `${where}: before 3.2, liblxc has no seccomp proxy`];
      if (v !== undefined && versionBelow(v, [4, 0, 5])) return ['warn', `${where}: before 4.0.5, liblxc sends no listener fd (ID_VALID and ADDFD unavailable)`];
      return ['ok', where];
    },
  },
  {
    name: 'liblxc seccomp API',
    evaluate: ({ lxc }) => {
      if (lxc.library === undefined) return ['warn', 'liblxc.so.1 not found'];
      const missing = LXC_EXTENSIONS.filter((e) => !lxc.extensions.includes(e));
      return missing.length === 0 ? ['ok', LXC_EXTENSIONS.join(', ')] : ['warn', `missing: ${missing.join(', ')}`];
    },
  },
  {
    name: 'runc',
    evaluate: (f) => {
      if (f.runc === undefined) return ['warn', 'not installed (only needed for OCI containers)'];
      const v = parseVersion(f.runc);
      return v !== undefined && versionBelow(v, [1, 1]) ? ['warn', `${f.runc}: seccomp agents (listenerPath) need runc ≥ 1.1`] : ['ok', f.runc];
    },
  },
  {
    name: 'crun',
    evaluate: (f) => {
      if (f.crun === undefined) return ['warn', 'not installed (only needed for OCI containers)'];
      if (f.cgroup.v2 === 'unified' && f.cgroup.v2Controllers.length > 0) {
        return ['warn', `${f.crun}: crun refuses hybrid cgroups while cgroup2 has controllers (${f.cgroup.v2Controllers.join(' ')})`];
      }
      return ['ok', f.crun];
    },
  },
  {
    name: 'cgroup layout',
    evaluate: ({ cgroup }) => {
      const ctl = cgroup.v2Controllers.length > 0 ? cgroup.v2Controllers.join(' ') : 'none';
      if (cgroup.v2 === 'root') return ['ok', `v2 (controllers: ${ctl})`];
      if (cgroup.v2 === 'unified') return ['ok', `hybrid: v1 plus cgroup2 at /sys/fs/cgroup/unified (controllers: ${ctl})`];
      if (cgroup.v1) return ['ok', 'v1 (no cgroup2: bpf device programs cannot be attached)'];
      return ['warn', 'no cgroup hierarchy under /sys/fs/cgroup: sysinfo reports the host'];
    },
  },
  binary('helper binary', (f) => f.helper, 'every action that needs host privilege goes through it'),
  binary('keeper binary', (f) => f.keeper, '`serve` starts it and cannot run without it', true),
  {
    name: 'helper runnable',
    required: true,
    evaluate: (f) => (f.helperPing.ok ? ['ok', `started and answered a ping in ${f.helperPing.ms} ms`] : ['FAIL', f.helperPing.reason]),
  },
  {
    name: 'state dir',
    evaluate: ({ stateDir: { path, file } }) => {
      if (file === undefined) return ['ok', `${path} does not exist yet (serve creates it)`];
      if (file.kind !== 'dir') return ['warn', `${path} is not a directory: serve refuses to start`];
      if (file.uid !== 0) return ['warn', `${path} is owned by uid ${file.uid}, not root: serve refuses to start`];
      if (file.mode !== 0o700) return ['warn', `${path} has mode ${octal(file.mode)}, not 0700 (serve fixes it at start)`];
      return ['ok', `${path}: root, 0700`];
    },
  },
  {
    name: 'sockets',
    evaluate: (f) => {
      if (f.sockets.length === 0) return ['ok', 'none yet (no daemon has run on this state dir)'];
      const bad = f.sockets.flatMap(({ name, file }) => {
        if (file.kind !== 'socket') return [`${name} is not a socket`];
        const wrong = [file.mode !== 0o600 ? `mode ${octal(file.mode)}` : '', file.uid !== 0 ? `owner uid ${file.uid}` : ''].filter(Boolean);
        return wrong.length > 0 ? [`${name}: ${wrong.join(', ')} (should be 0600, root)`] : [];
      });
      return bad.length > 0 ? ['warn', bad.join('; ')] : ['ok', `${f.sockets.map((s) => s.name).join(', ')}: 0600, root`];
    },
  },
  {
    name: 'daemon',
    evaluate: (f) =>
      f.daemon.ok
        ? ['ok', `${f.stateDir.path}/seccomp.socket accepts connections`]
        : ['warn', `nothing accepts connections on ${f.stateDir.path}/seccomp.socket (${errnoName(f.daemon.errno)}): start \`interceptd serve\` before any container`],
  },
  {
    name: 'policies',
    evaluate: (f) => {
      if (!f.configDir.exists) return ['warn', `${f.configDir.path} does not exist: no LXC container has a policy yet (see lxc-config)`];
      const bad = f.policies.filter((p) => p.errors.length > 0);
      if (bad.length > 0) return ['warn', `${bad.length} of ${f.policies.length} do not parse: ${bad.map((p) => `${p.file} (${p.errors.join('; ')})`).join(', ')}`];
      return ['ok', `${f.policies.length} policy file${f.policies.length === 1 ? '' : 's'} in ${f.configDir.path}/containers parse`];
    },
  },
  {
    name: 'LXD/Incus',
    evaluate: ({ lxd }) => {
      if (lxd === undefined) return ['ok', 'none found'];
      if (!lxd.reachable) return ['warn', `cannot read ${lxd.socket}: ${lxd.error}`];
      const by = (s: Serving): string[] => lxd.containers.filter((c) => c.serving === s).map((c) => c.name);
      const ours = by('interceptd');
      const problems = [
        by('restart').length > 0 ? `${by('restart').join(', ')}: the override is set but the running container predates it (restart it)` : '',
        by('elsewhere').length > 0 ? `${by('elsewhere').join(', ')}: notifications go to another socket than ours` : '',
        ours.length > 0 && lxd.daemonFollows === false
          ? 'the daemon runs without --lxd-socket: those containers get their policy from policy files, not from LXD'
          : '',
      ].filter(Boolean);
      const summary = [
        ours.length > 0 ? `served by interceptd: ${ours.join(', ')}` : '',
        by('lxd').length > 0 ? `by LXD itself: ${by('lxd').join(', ')} (to switch: raw.lxc "${lxd.line}", then restart)` : '',
      ].filter(Boolean);
      const text = [...problems, ...summary].join('; ');
      if (problems.length > 0) return ['warn', text];
      return ['ok', `${lxd.socket}: ${summary.length > 0 ? text : 'no container intercepts syscalls'}`];
    },
  },
];

export function evaluate(facts: Facts, checks: readonly Check[] = CHECKS): CheckResult[] {
  return checks.map((c) => {
    const [verdict, detail] = c.evaluate(facts);
    return { check: c.name, verdict, detail };
  });
}

/** 1 when a required check failed; warnings never fail. */
export function exitStatus(results: readonly CheckResult[]): number {
  return results.some((r) => r.verdict === 'FAIL') ? 1 : 0;
}

/** One line per check: verdict, name, reason; then a summary. */
export function renderText(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.check.length));
  const lines = results.map((r) => `${r.verdict.padEnd(4)}  ${r.check.padEnd(width)}  ${r.detail}`);
  const fails = results.filter((r) => r.verdict === 'FAIL').length;
  const warns = results.filter((r) => r.verdict === 'warn').length;
  lines.push('', fails > 0 ? `${fails} required check${fails === 1 ? '' : 's'} failed, ${warns} warning${warns === 1 ? '' : 's'}` : `ready (${warns} warning${warns === 1 ? '' : 's'})`);
  return lines.join('\n');
}
