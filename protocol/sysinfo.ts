// struct sysinfo (kernel-abi.md §11): the native 112-byte layout (x86_64, x32, aarch64)
// and the 64-byte i386 layout with the kernel's compat mem_unit scaling. Pure.

/** Memory sizes in bytes (mem_unit 1), as the native 64-bit kernel reports them. */
export interface Sysinfo {
  /** Seconds. */
  readonly uptime: bigint;
  /** 1, 5 and 15 minute loads, fixed point (SI_LOAD_SHIFT 16). */
  readonly loads: readonly [bigint, bigint, bigint];
  readonly totalram: bigint;
  readonly freeram: bigint;
  readonly sharedram: bigint;
  readonly bufferram: bigint;
  readonly totalswap: bigint;
  readonly freeswap: bigint;
  readonly procs: number;
  readonly totalhigh: bigint;
  readonly freehigh: bigint;
}

export type SysinfoLayout = 'native' | 'i386';

export const SYSINFO_NATIVE_SIZE = 112;
export const SYSINFO_I386_SIZE = 64;
export const SYSINFO_SIZE: Readonly<Record<SysinfoLayout, number>> = { native: SYSINFO_NATIVE_SIZE, i386: SYSINFO_I386_SIZE };

const PAGE_SHIFT = 12n;
const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const u32 = (v: bigint): number => Number(BigInt.asUintN(32, v));
const u16 = (n: number): number => Math.max(0, Math.min(0xffff, Math.trunc(n)));

/** The native layout, mem_unit 1. */
export function encodeSysinfoNative(s: Sysinfo): Buffer {
  const b = Buffer.alloc(SYSINFO_NATIVE_SIZE);
  b.writeBigInt64LE(BigInt.asIntN(64, s.uptime), 0);
  s.loads.forEach((l, i) => b.writeBigUInt64LE(u64(l), 8 + i * 8));
  b.writeBigUInt64LE(u64(s.totalram), 32);
  b.writeBigUInt64LE(u64(s.freeram), 40);
  b.writeBigUInt64LE(u64(s.sharedram), 48);
  b.writeBigUInt64LE(u64(s.bufferram), 56);
  b.writeBigUInt64LE(u64(s.totalswap), 64);
  b.writeBigUInt64LE(u64(s.freeswap), 72);
  b.writeUInt16LE(u16(s.procs), 80);
  b.writeBigUInt64LE(u64(s.totalhigh), 88);
  b.writeBigUInt64LE(u64(s.freehigh), 96);
  b.writeUInt32LE(1, 104);
  return b;
}

/**
 * The kernel's compat rule (kernel/sys.c, compat sysinfo): if totalram or totalswap
 * does not fit in 32 bits, mem_unit becomes the page size and every memory value is
 * shifted right to match; otherwise mem_unit stays 1.
 */
export function compatMemUnitShift(s: Pick<Sysinfo, 'totalram' | 'totalswap'>): bigint {
  return u64(s.totalram) >> 32n !== 0n || u64(s.totalswap) >> 32n !== 0n ? PAGE_SHIFT : 0n;
}

/** The i386 layout: 32-bit fields truncated as the kernel's assignments truncate them. */
export function encodeSysinfoI386(s: Sysinfo): Buffer {
  const shift = compatMemUnitShift(s);
  const mem = (v: bigint): number => u32(u64(v) >> shift);
  const b = Buffer.alloc(SYSINFO_I386_SIZE);
  b.writeInt32LE(Number(BigInt.asIntN(32, s.uptime)), 0);
  s.loads.forEach((l, i) => b.writeUInt32LE(u32(l), 4 + i * 4));
  b.writeUInt32LE(mem(s.totalram), 16);
  b.writeUInt32LE(mem(s.freeram), 20);
  b.writeUInt32LE(mem(s.sharedram), 24);
  b.writeUInt32LE(mem(s.bufferram), 28);
  b.writeUInt32LE(mem(s.totalswap), 32);
  b.writeUInt32LE(mem(s.freeswap), 36);
  b.writeUInt16LE(u16(s.procs), 40);
  b.writeUInt32LE(mem(s.totalhigh), 44);
  b.writeUInt32LE(mem(s.freehigh), 48);
  b.writeUInt32LE(1 << Number(shift), 52);
  return b;
}

export function encodeSysinfo(s: Sysinfo, layout: SysinfoLayout): Buffer {
  return layout === 'i386' ? encodeSysinfoI386(s) : encodeSysinfoNative(s);
}

/**
 * A native struct as the host kernel filled it, sizes converted to bytes. Undefined
 * when the buffer is short or mem_unit is 0.
 */
export function decodeSysinfoNative(b: Buffer): Sysinfo | undefined {
  if (b.length < SYSINFO_NATIVE_SIZE) return undefined;
  const unit = BigInt(b.readUInt32LE(104));
  if (unit === 0n) return undefined;
  const mem = (off: number): bigint => b.readBigUInt64LE(off) * unit;
  return {
    uptime: b.readBigInt64LE(0),
    loads: [b.readBigUInt64LE(8), b.readBigUInt64LE(16), b.readBigUInt64LE(24)],
    totalram: mem(32),
    freeram: mem(40),
    sharedram: mem(48),
    bufferram: mem(56),
    totalswap: mem(64),
    freeswap: mem(72),
    procs: b.readUInt16LE(80),
    totalhigh: mem(88),
    freehigh: mem(96),
  };
}
