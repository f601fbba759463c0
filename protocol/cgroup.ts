// The text of cgroup files: /proc/<pid>/cgroup, single-value files (memory.max,
// memory.limit_in_bytes, pids.current) and flat keyed files (memory.stat). Pure; a
// malformed input yields undefined, never an exception.

/** A task's cgroup paths, relative to each hierarchy's mount. */
export interface ProcCgroups {
  /** The cgroup2 path (`0::/path`), if the task has one. */
  readonly unified: string | undefined;
  /** v1 controller → path (`4:memory:/path`; co-mounted controllers each get the path). */
  readonly v1: ReadonlyMap<string, { readonly path: string; readonly hierarchy: string }>;
}

/** An absolute cgroup path whose components the kernel could have made: no `.`, `..` or empty names. */
function cleanPath(p: string): string | undefined {
  if (!p.startsWith('/') || p.includes('\0')) return undefined;
  const parts = p.split('/').filter((s) => s !== '');
  if (parts.some((s) => s === '.' || s === '..')) return undefined;
  // systemd moves a container's init into init.scope; the container is the parent.
  if (parts[parts.length - 1] === 'init.scope') parts.pop();
  return `/${parts.join('/')}`;
}

/** Undefined when a line is malformed or a hierarchy appears twice. */
export function parseProcCgroup(text: string): ProcCgroups | undefined {
  let unified: string | undefined;
  const v1 = new Map<string, { path: string; hierarchy: string }>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first <= 0 || second < 0) return undefined;
    const id = line.slice(0, first);
    const controllers = line.slice(first + 1, second);
    const path = cleanPath(line.slice(second + 1));
    if (!/^\d+$/.test(id) || path === undefined) return undefined;
    if (id === '0' && controllers === '') {
      if (unified !== undefined) return undefined;
      unified = path;
      continue;
    }
    for (const ctrl of controllers.split(',')) {
      if (ctrl === '' || v1.has(ctrl)) return undefined;
      v1.set(ctrl, { path, hierarchy: controllers });
    }
  }
  return { unified, v1 };
}

/** `max` (no limit) or a byte count. */
export type Limit = bigint | 'max';

const DECIMAL = /^\d{1,20}$/;

function u64(s: string): bigint | undefined {
  if (!DECIMAL.test(s)) return undefined;
  const v = BigInt(s);
  return v <= 0xffff_ffff_ffff_ffffn ? v : undefined;
}

/** A single unsigned value (`268435456\n`). */
export function parseCgroupValue(text: string): bigint | undefined {
  return u64(text.trim());
}

/** A limit file: a value or `max`. */
export function parseCgroupLimit(text: string): Limit | undefined {
  const s = text.trim();
  return s === 'max' ? 'max' : u64(s);
}

/** `key value` lines (memory.stat); malformed lines are skipped. */
export function parseFlatKeyed(text: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp <= 0) continue;
    const v = u64(line.slice(sp + 1).trim());
    if (v !== undefined) out.set(line.slice(0, sp), v);
  }
  return out;
}
