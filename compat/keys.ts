// LXD's container config keys for syscall interception (lxd-behaviour.md §14):
// parsing and validation, pure. Values are strings, as in LXD's config.

export const INTERCEPT = 'security.syscalls.intercept.';

type Kind = 'bool' | 'list' | 'fuse' | 'text';

/** Every key interceptd accepts, with its LXD type. */
export const KNOWN_KEYS: Readonly<Record<string, Kind>> = {
  'security.syscalls.intercept.mknod': 'bool',
  'security.syscalls.intercept.setxattr': 'bool',
  'security.syscalls.intercept.mount': 'bool',
  'security.syscalls.intercept.mount.allowed': 'list',
  'security.syscalls.intercept.mount.fuse': 'fuse',
  'security.syscalls.intercept.mount.shift': 'bool',
  'security.syscalls.intercept.bpf': 'bool',
  'security.syscalls.intercept.bpf.devices': 'bool',
  'security.syscalls.intercept.sched_setscheduler': 'bool',
  'security.syscalls.intercept.sysinfo': 'bool',
  'security.syscalls.deny_default': 'bool',
  'security.syscalls.deny': 'text',
  'security.syscalls.allow': 'text',
  'raw.seccomp': 'text',
};

export interface Policy {
  readonly mknod: boolean;
  readonly setxattr: boolean;
  readonly mount: boolean;
  readonly mountAllowed: readonly string[];
  /** fstype → FUSE binary. */
  readonly mountFuse: ReadonlyMap<string, string>;
  readonly mountShift: boolean;
  readonly bpf: boolean;
  readonly bpfDevices: boolean;
  readonly schedSetscheduler: boolean;
  readonly sysinfo: boolean;
  readonly denyDefault: boolean;
  readonly deny: string;
  readonly allow: string;
  readonly rawSeccomp: string;
}

/** No interception: what a container without a policy gets (every request CONTINUEs). */
export const EMPTY_POLICY: Policy = Object.freeze({
  mknod: false,
  setxattr: false,
  mount: false,
  mountAllowed: [],
  mountFuse: new Map(),
  mountShift: false,
  bpf: false,
  bpfDevices: false,
  schedSetscheduler: false,
  sysinfo: false,
  denyDefault: true,
  deny: '',
  allow: '',
  rawSeccomp: '',
});

export type ParsedPolicy = { readonly ok: true; readonly policy: Policy } | { readonly ok: false; readonly errors: string[] };

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off', '']);

function splitList(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Validates one key/value pair; returns an error message naming the key, or undefined. */
export function validateKey(key: string, value: string): string | undefined {
  const kind = KNOWN_KEYS[key];
  if (key === 'security.syscalls.deny_compat') return `"${key}" is an LXD key interceptd does not support yet`;
  if (kind === undefined) return `unknown configuration key "${key}"`;
  switch (kind) {
    case 'bool':
      return TRUE.has(value.toLowerCase()) || FALSE.has(value.toLowerCase())
        ? undefined
        : `invalid value for "${key}": "${value}" is not a boolean (true/false/yes/no/on/off/1/0)`;
    case 'list':
      return splitList(value).every((t) => /^[A-Za-z0-9_.+-]+$/.test(t))
        ? undefined
        : `invalid value for "${key}": "${value}" is not a comma-separated list of filesystem types`;
    case 'fuse':
      for (const entry of splitList(value)) {
        const eq = entry.indexOf('=');
        if (eq <= 0 || eq === entry.length - 1) {
          return `invalid value for "${key}": entry "${entry}" is not of the form fstype=fuse-binary`;
        }
      }
      return undefined;
    case 'text':
      return undefined;
  }
}

/** Builds a policy from LXD-style config; every problem is reported, each naming its key. */
export function parsePolicy(config: Readonly<Record<string, string>>): ParsedPolicy {
  const errors: string[] = [];
  for (const [k, v] of Object.entries(config)) {
    const e = validateKey(k, v);
    if (e !== undefined) errors.push(e);
  }
  if (errors.length > 0) return { ok: false, errors };
  const get = (k: string): string => config[k] ?? '';
  const bool = (k: string, dflt = false): boolean => (k in config ? TRUE.has(get(k).toLowerCase()) : dflt);
  const mountAllowed = splitList(get(`${INTERCEPT}mount.allowed`));
  const mountFuse = new Map<string, string>();
  for (const entry of splitList(get(`${INTERCEPT}mount.fuse`))) {
    const eq = entry.indexOf('=');
    mountFuse.set(entry.slice(0, eq).trim(), entry.slice(eq + 1).trim());
  }
  for (const fstype of mountAllowed) {
    if (mountFuse.has(fstype)) {
      errors.push(`filesystem "${fstype}" is listed in both "${INTERCEPT}mount.allowed" and "${INTERCEPT}mount.fuse"`);
    }
  }
  if (get('raw.seccomp') !== '' && (get('security.syscalls.allow') !== '' || get('security.syscalls.deny') !== '')) {
    errors.push('"raw.seccomp" cannot be combined with "security.syscalls.allow" or "security.syscalls.deny"');
  }
  // As LXD: an allow list excludes deny lists and an enabled deny_default.
  if (get('security.syscalls.allow') !== '' && (get('security.syscalls.deny') !== '' || bool('security.syscalls.deny_default', false))) {
    errors.push('"security.syscalls.allow" cannot be combined with "security.syscalls.deny" or "security.syscalls.deny_default=true"');
  }
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    policy: {
      mknod: bool(`${INTERCEPT}mknod`),
      setxattr: bool(`${INTERCEPT}setxattr`),
      mount: bool(`${INTERCEPT}mount`),
      mountAllowed,
      mountFuse,
      mountShift: bool(`${INTERCEPT}mount.shift`),
      bpf: bool(`${INTERCEPT}bpf`),
      bpfDevices: bool(`${INTERCEPT}bpf.devices`),
      schedSetscheduler: bool(`${INTERCEPT}sched_setscheduler`),
      sysinfo: bool(`${INTERCEPT}sysinfo`),
      denyDefault: bool('security.syscalls.deny_default', true),
      deny: get('security.syscalls.deny'),
      allow: get('security.syscalls.allow'),
      rawSeccomp: get('raw.seccomp'),
    },
  };
}

/** True when any key needs the notify proxy. */
export function needsInterception(p: Policy): boolean {
  return p.mknod || p.setxattr || p.mount || p.bpf || p.schedSetscheduler || p.sysinfo;
}

/**
 * Applies `--set KEY=VALUE` and `--unset KEY` to `config` (in place). `accept` may refuse
 * a key for a reason of its own (e.g. one only valid elsewhere). Returns the problems,
 * each naming its key; nothing is set for a refused assignment.
 */
export function applyAssignments(
  config: Record<string, string>,
  set: readonly string[],
  unset: readonly string[],
  accept: (key: string) => string | undefined = () => undefined,
): string[] {
  const errors: string[] = [];
  for (const assignment of set) {
    const eq = assignment.indexOf('=');
    if (eq <= 0) {
      errors.push(`malformed --set "${assignment}": expected KEY=VALUE`);
      continue;
    }
    const key = assignment.slice(0, eq).trim();
    const value = assignment.slice(eq + 1).trim();
    const problem = accept(key) ?? validateKey(key, value);
    if (problem !== undefined) errors.push(problem);
    else config[key] = value;
  }
  for (const key of unset) delete config[key];
  return errors;
}
