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

/** Returns undefined when a required field is missing or malformed. */
export function parseTaskStatus(text: string): TaskStatus | undefined {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  const uid = ids(fields.get('Uid'));
  const gid = ids(fields.get('Gid'));
  const tgid = ids(fields.get('Tgid'))[0];
  const capHex = fields.get('CapEff')?.trim();
  if (uid.length !== 4 || gid.length !== 4 || tgid === undefined || capHex === undefined || !/^[0-9a-f]{1,16}$/i.test(capHex)) {
    return undefined;
  }
  const umaskText = fields.get('Umask')?.trim();
  return {
    tgid,
    euid: uid[1]!,
    fsuid: uid[3]!,
    egid: gid[1]!,
    fsgid: gid[3]!,
    groups: ids(fields.get('Groups')),
    umask: umaskText !== undefined && /^[0-7]{1,4}$/.test(umaskText) ? Number.parseInt(umaskText, 8) : -1,
    capEff: BigInt(`0x${capHex}`),
    nspid: ids(fields.get('NSpid')),
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
