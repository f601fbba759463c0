// Requests to and replies from the native helper (native/helper/interceptd-helper.c).
// Fixed little-endian layouts; the helper answers with an errno, never with text.
//
// request:  0 u32 magic | 4 u32 op | 8 u64 seq | 16 u64 notif id | 24 8 reserved | 32 op payload
// mknod:   32 s32 dirfd | 36 u32 mode | 40 u32 dev | 44 u32 umask | 48 u32 fsuid | 52 u32 fsgid
//          56 u64 caps | 64 u32 ngroups | 68 u32 path_len | 72 u32 groups[64] | 328 path (no NUL)
// reply:    0 u32 magic | 4 s32 errno | 8 u64 seq | 16 s64 val | 24 u32 flags | 28 reserved

import { PATH_MAX } from './constants.js';
import { ProtocolError } from './errors.js';
import type { Decoded } from './proxy-message.js';

export const HELPER_REQ_MAGIC = 0x48434449;
export const HELPER_RESP_MAGIC = 0x52434449;
export const HELPER_HEADER = 32;
export const HELPER_REPLY_SIZE = 32;
export const HELPER_MAX_GROUPS = 64;
const MKNOD_FIXED = HELPER_HEADER + 40 + 4 * HELPER_MAX_GROUPS;

export const HelperOp = { PING: 1, MKNOD: 2 } as const;

/** Reply flag: the created node was unusable (user-namespace-owned fs) and a host node was bound over it. */
export const HELPER_FLAG_BOUND = 1;

export interface MknodRequest {
  readonly dirfd: number;
  readonly mode: number;
  readonly dev: number;
  readonly umask: number;
  readonly fsuid: number;
  readonly fsgid: number;
  /** Capabilities the helper may hold while acting (bit = capability number). */
  readonly caps: bigint;
  readonly groups: readonly number[];
  /** Path bytes without the NUL, shorter than PATH_MAX, no NUL inside. */
  readonly path: Buffer;
}

function header(size: number, op: number, seq: bigint, notifId: bigint): Buffer {
  const b = Buffer.alloc(size);
  b.writeUInt32LE(HELPER_REQ_MAGIC, 0);
  b.writeUInt32LE(op, 4);
  b.writeBigUInt64LE(seq, 8);
  b.writeBigUInt64LE(notifId, 16);
  return b;
}

export function encodePing(seq: bigint): Buffer {
  return header(HELPER_HEADER, HelperOp.PING, seq, 0n);
}

export function encodeMknod(seq: bigint, notifId: bigint, r: MknodRequest): Buffer {
  if (r.path.length === 0 || r.path.length >= PATH_MAX || r.path.includes(0)) {
    throw new RangeError('mknod path must be 1..4095 bytes without NUL');
  }
  const b = header(MKNOD_FIXED + r.path.length, HelperOp.MKNOD, seq, notifId);
  b.writeInt32LE(r.dirfd, 32);
  b.writeUInt32LE(r.mode >>> 0, 36);
  b.writeUInt32LE(r.dev >>> 0, 40);
  b.writeUInt32LE(r.umask >>> 0, 44);
  b.writeUInt32LE(r.fsuid >>> 0, 48);
  b.writeUInt32LE(r.fsgid >>> 0, 52);
  b.writeBigUInt64LE(r.caps, 56);
  const groups = r.groups.slice(0, HELPER_MAX_GROUPS);
  b.writeUInt32LE(groups.length, 64);
  b.writeUInt32LE(r.path.length, 68);
  groups.forEach((g, i) => b.writeUInt32LE(g >>> 0, 72 + 4 * i));
  r.path.copy(b, MKNOD_FIXED);
  return b;
}

export interface HelperReply {
  readonly seq: bigint;
  /** 0 or a positive errno. */
  readonly errno: number;
  readonly val: bigint;
  readonly flags: number;
}

export function decodeHelperReply(buf: Buffer, length: number): Decoded<HelperReply> {
  if (length !== HELPER_REPLY_SIZE || buf.readUInt32LE(0) !== HELPER_RESP_MAGIC) {
    return { ok: false, error: new ProtocolError('ICD_PROTO_HELPER', `bad helper reply (${length} bytes)`) };
  }
  const err = buf.readInt32LE(4);
  if (err < 0 || err > 4095) {
    return { ok: false, error: new ProtocolError('ICD_PROTO_HELPER', `helper errno out of range: ${err}`) };
  }
  return {
    ok: true,
    value: { errno: err, seq: buf.readBigUInt64LE(8), val: buf.readBigInt64LE(16), flags: buf.readUInt32LE(24) },
  };
}
