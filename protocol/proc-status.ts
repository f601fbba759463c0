// /proc/<pid>/status: the caller's credentials as the kernel reports them (host ids).

export interface TaskStatus {
  readonly tgid: number;
  readonly euid: number;
  readonly fsuid: number;
  readonly egid: number;
  readonly fsgid: number;
  readonly groups: readonly number[];
  /** -1 when the kernel does not report it. */
  readonly umask: number;
  readonly capEff: bigint;
  /** The pid in each nested pid namespace, outermost first. */
  readonly nspid: readonly number[];
}

function ids(line: string | undefined): number[] {
  if (line === undefined) return [];
  return line
    .trim()
    .split(/\s+/)
    .filter((s) => s !== '')
    .map((s) => Number.parseInt(s, 10))
    .filter((n) => Number.isSafeInteger(n) && n >= 0);
}

const WANTED = ['Tgid', 'Uid', 'Gid', 'Groups', 'Umask', 'CapEff', 'NSpid'] as const;
type Wanted = (typeof WANTED)[number];

/** The lines we need, by key (the last one wins, as in a map). Read on every emulated call: no split, no regex. */
function wantedFields(text: string): Partial<Record<Wanted, string>> {
  const out: Partial<Record<Wanted, string>> = {};
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    for (const key of WANTED) {
      if (text.charCodeAt(start + key.length) === 58 /* : */ && text.startsWith(key, start)) {
        out[key] = text.slice(start + key.length + 1, end);
        break;
      }
    }
    start = end + 1;
  }
  return out;
}

/** Returns undefined when a required field is missing or malformed. */
export function parseTaskStatus(text: string): TaskStatus | undefined {
  const fields = wantedFields(text);
  const uid = ids(fields.Uid);
  const gid = ids(fields.Gid);
  const tgid = ids(fields.Tgid)[0];
  const capHex = fields.CapEff?.trim();
  if (uid.length !== 4 || gid.length !== 4 || tgid === undefined || capHex === undefined || !/^[0-9a-f]{1,16}$/i.test(capHex)) {
    return undefined;
  }
  const umaskText = fields.Umask?.trim();
  return {
    tgid,
    euid: uid[1]!,
    fsuid: uid[3]!,
    egid: gid[1]!,
    fsgid: gid[3]!,
    groups: ids(fields.Groups),
    umask: umaskText !== undefined && /^[0-7]{1,4}$/.test(umaskText) ? Number.parseInt(umaskText, 8) : -1,
    capEff: BigInt(`0x${capHex}`),
    nspid: ids(fields.NSpid),
  };
}

export const CAP_DAC_OVERRIDE = 1;
export const CAP_DAC_READ_SEARCH = 2;
export const CAP_FOWNER = 3;
export const CAP_NET_ADMIN = 12;
export const CAP_SYS_ADMIN = 21;
export const CAP_SYS_NICE = 23;
export const CAP_MKNOD = 27;
export const CAP_BPF = 39;

export function hasCap(caps: bigint, cap: number): boolean {
  return ((caps >> BigInt(cap)) & 1n) === 1n;
}

export function capBit(cap: number): bigint {
  return 1n << BigInt(cap);
}
