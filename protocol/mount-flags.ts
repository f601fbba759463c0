// mount(2) flags → what the new mount API needs: mount attributes for fsmount, and
// superblock options for fsconfig (or for a FUSE program's -o). Pure.

export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  MANDLOCK: 0x40,
  DIRSYNC: 0x80,
  NOSYMFOLLOW: 0x100,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  SILENT: 0x8000,
  POSIXACL: 0x10000,
  UNBINDABLE: 0x20000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
  KERNMOUNT: 0x400000,
  I_VERSION: 0x800000,
  STRICTATIME: 0x1000000,
  LAZYTIME: 0x2000000,
} as const;

const MS_MGC_VAL = 0xc0ed0000n;
const MS_MGC_MSK = 0xffff0000n;

export const MOUNT_ATTR = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  NOATIME: 0x10,
  STRICTATIME: 0x20,
  NODIRATIME: 0x80,
  NOSYMFOLLOW: 0x200000,
} as const;

/** Flags that do not create a superblock: left to the kernel. */
const NOT_NEW = MS.REMOUNT | MS.BIND | MS.MOVE | MS.SHARED | MS.PRIVATE | MS.SLAVE | MS.UNBINDABLE;
/** Flags with no effect on a new mount here (MS_REC only matters with MS_BIND). */
const IGNORED = MS.SILENT | MS.REC | MS.RELATIME;

const ATTRS: readonly [number, number][] = [
  [MS.RDONLY, MOUNT_ATTR.RDONLY],
  [MS.NOSUID, MOUNT_ATTR.NOSUID],
  [MS.NODEV, MOUNT_ATTR.NODEV],
  [MS.NOEXEC, MOUNT_ATTR.NOEXEC],
  [MS.NOATIME, MOUNT_ATTR.NOATIME],
  [MS.STRICTATIME, MOUNT_ATTR.STRICTATIME],
  [MS.NODIRATIME, MOUNT_ATTR.NODIRATIME],
  [MS.NOSYMFOLLOW, MOUNT_ATTR.NOSYMFOLLOW],
];

/** Superblock flags as the generic fsconfig flag names. */
const SB_OPTIONS: readonly [number, string][] = [
  [MS.RDONLY, 'ro'],
  [MS.SYNCHRONOUS, 'sync'],
  [MS.DIRSYNC, 'dirsync'],
  [MS.LAZYTIME, 'lazytime'],
  [MS.MANDLOCK, 'mand'],
  [MS.POSIXACL, 'posixacl'],
  [MS.I_VERSION, 'i_version'],
];

/** Options a FUSE program understands (what mount(8) would pass with -o). */
const FUSE_OPTIONS: readonly [number, string][] = [
  [MS.RDONLY, 'ro'],
  [MS.NOSUID, 'nosuid'],
  [MS.NODEV, 'nodev'],
  [MS.NOEXEC, 'noexec'],
  [MS.SYNCHRONOUS, 'sync'],
  [MS.DIRSYNC, 'dirsync'],
  [MS.NOATIME, 'noatime'],
  [MS.NODIRATIME, 'nodiratime'],
  [MS.STRICTATIME, 'strictatime'],
  [MS.LAZYTIME, 'lazytime'],
];

export type MountFlags =
  | { readonly ok: true; readonly attrs: number; readonly sbOptions: string[]; readonly fuseOptions: string[] }
  | { readonly ok: false; readonly reason: string };

export function translateMountFlags(raw: bigint): MountFlags {
  let flags = raw;
  // The legacy magic number in the upper half is ignored by the kernel.
  if ((flags & MS_MGC_MSK) === MS_MGC_VAL) flags &= 0xffffn;
  if (flags > 0xffffffffn) return { ok: false, reason: 'flags beyond 32 bits' };
  const f = Number(flags);
  if ((f & NOT_NEW) !== 0) return { ok: false, reason: 'not a new mount (remount, bind, move or propagation)' };
  let known = IGNORED;
  let attrs = 0;
  const sbOptions: string[] = [];
  const fuseOptions: string[] = [];
  for (const [ms, attr] of ATTRS) {
    known |= ms;
    if (f & ms) attrs |= attr;
  }
  for (const [ms, name] of SB_OPTIONS) {
    known |= ms;
    if (f & ms) sbOptions.push(name);
  }
  for (const [ms, name] of FUSE_OPTIONS) if (f & ms) fuseOptions.push(name);
  const unknown = f & ~known;
  if (unknown !== 0) return { ok: false, reason: `unsupported mount flags 0x${unknown.toString(16)}` };
  return { ok: true, attrs, sbOptions, fuseOptions };
}

/** Splits mount(2)'s data string into fsconfig options (comma-separated, empty items dropped). */
export function splitOptions(data: string): string[] {
  return data.split(',').filter((o) => o !== '');
}

/**
 * hugetlbfs takes uid=/gid= options, which the kernel reads in the mounting user
 * namespace: translate container ids to host ids, and default to the caller's (as LXD).
 */
export function hugetlbfsOptions(
  options: readonly string[],
  toHostUid: (id: number) => number | undefined,
  toHostGid: (id: number) => number | undefined,
  callerUid: number,
  callerGid: number,
): string[] | undefined {
  const out: string[] = [];
  let uid = false;
  let gid = false;
  for (const o of options) {
    const m = /^(uid|gid)=(\d+)$/.exec(o);
    if (m === null) {
      out.push(o);
      continue;
    }
    const host = m[1] === 'uid' ? toHostUid(Number(m[2])) : toHostGid(Number(m[2]));
    if (host === undefined) return undefined;
    out.push(`${m[1]}=${host}`);
    if (m[1] === 'uid') uid = true;
    else gid = true;
  }
  if (!uid) out.push(`uid=${callerUid}`);
  if (!gid) out.push(`gid=${callerGid}`);
  return out;
}
