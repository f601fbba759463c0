// The parts of `union bpf_attr` interceptd acts on (BPF_PROG_LOAD, BPF_PROG_ATTACH,
// BPF_PROG_DETACH), decoded by hand from the caller's copy. Fields interceptd does not
// understand must be zero, or the call is left to the kernel: they could name the
// caller's fds or memory, which the daemon would otherwise use as host root.

export const BPF_PROG_LOAD = 5;
export const BPF_PROG_ATTACH = 8;
export const BPF_PROG_DETACH = 9;
export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
export const BPF_CGROUP_DEVICE = 6;
export const BPF_F_REPLACE = 4;

/** Bounds: device programs are tiny; these keep a hostile caller from making us copy much. */
export const MAX_ATTR = 4096;
export const MAX_INSNS = 65536;
export const MAX_LOG = 1 << 20;
export const MAX_LICENSE = 128;

export interface ProgLoad {
  readonly progType: number;
  readonly insnCnt: number;
  readonly insns: bigint;
  readonly license: bigint;
  readonly logLevel: number;
  readonly logSize: number;
  readonly logBuf: bigint;
  readonly kernVersion: number;
  readonly progFlags: number;
  readonly progName: Buffer;
  readonly expectedAttachType: number;
}

export interface ProgAttach {
  readonly targetFd: number;
  readonly attachBpfFd: number;
  readonly attachType: number;
  readonly attachFlags: number;
  readonly replaceBpfFd: number;
}

export type AttrResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** Bytes from `from` to the end are all zero. */
function zeroFrom(attr: Buffer, from: number): boolean {
  for (let i = from; i < attr.length; i++) if (attr[i] !== 0) return false;
  return true;
}

/** Reads a little-endian field if the caller's attr is long enough, else 0 (the kernel zero-fills). */
const u32 = (b: Buffer, off: number): number => (b.length >= off + 4 ? b.readUInt32LE(off) : 0);
const u64 = (b: Buffer, off: number): bigint => (b.length >= off + 8 ? b.readBigUInt64LE(off) : 0n);

const LOAD_KNOWN = 72; // through expected_attach_type

export function decodeProgLoad(attr: Buffer): AttrResult<ProgLoad> {
  if (!zeroFrom(attr, LOAD_KNOWN)) return { ok: false, reason: 'BTF, func/line info, fd_array or other fields interceptd does not handle' };
  const name = Buffer.alloc(16);
  attr.copy(name, 0, 48, Math.min(64, attr.length));
  return {
    ok: true,
    value: {
      progType: u32(attr, 0),
      insnCnt: u32(attr, 4),
      insns: u64(attr, 8),
      license: u64(attr, 16),
      logLevel: u32(attr, 24),
      logSize: u32(attr, 28),
      logBuf: u64(attr, 32),
      kernVersion: u32(attr, 40),
      progFlags: u32(attr, 44),
      progName: name,
      expectedAttachType: u32(attr, 68),
    },
  };
}

const ATTACH_KNOWN = 20; // through replace_bpf_fd

export function decodeProgAttach(attr: Buffer): AttrResult<ProgAttach> {
  if (!zeroFrom(attr, ATTACH_KNOWN)) return { ok: false, reason: 'relative attach or revision fields interceptd does not handle' };
  return {
    ok: true,
    value: {
      targetFd: u32(attr, 0) | 0,
      attachBpfFd: u32(attr, 4) | 0,
      attachType: u32(attr, 8),
      attachFlags: u32(attr, 12),
      replaceBpfFd: u32(attr, 16) | 0,
    },
  };
}

/** Our own BPF_PROG_LOAD attr (72 bytes: every kernel since 5.x accepts it), pointing at our copies. */
export function encodeProgLoad(p: ProgLoad, insns: bigint, license: bigint, logBuf: bigint, logSize: number): Buffer {
  const b = Buffer.alloc(LOAD_KNOWN);
  b.writeUInt32LE(p.progType, 0);
  b.writeUInt32LE(p.insnCnt, 4);
  b.writeBigUInt64LE(insns, 8);
  b.writeBigUInt64LE(license, 16);
  b.writeUInt32LE(logSize > 0 ? p.logLevel : 0, 24);
  b.writeUInt32LE(logSize, 28);
  b.writeBigUInt64LE(logSize > 0 ? logBuf : 0n, 32);
  b.writeUInt32LE(p.kernVersion, 40);
  b.writeUInt32LE(p.progFlags, 44);
  p.progName.copy(b, 48, 0, 16);
  b.writeUInt32LE(p.expectedAttachType, 68);
  return b;
}

export function encodeProgAttach(a: ProgAttach): Buffer {
  const b = Buffer.alloc(ATTACH_KNOWN);
  b.writeUInt32LE(a.targetFd >>> 0, 0);
  b.writeUInt32LE(a.attachBpfFd >>> 0, 4);
  b.writeUInt32LE(a.attachType, 8);
  b.writeUInt32LE(a.attachFlags, 12);
  b.writeUInt32LE(a.replaceBpfFd >>> 0, 16);
  return b;
}
