// Requests to and replies from the native helper (native/helper/interceptd-helper.c).
// Fixed little-endian layouts; the helper answers with an errno, never with text.
//
// request:  0 u32 magic | 4 u32 op | 8 u64 seq | 16 u64 notif id | 24 u32 caller tid | 28 reserved
// caller:  32 s32 a | 36 u32 b | 40 u32 c | 44 u32 umask | 48 u32 fsuid | 52 u32 fsgid
//          56 u64 caps | 64 u32 ngroups | 68 u32 path_len | 72 u32 groups[64] | 328 path (no NUL) [+ extra]
//          mknod:    a = dirfd, b = mode, c = dev
//          setxattr: a = flags, b = value length, c = name length; extra = name, value
//          sched:    a = pid as the caller sees it (0 = itself), b = policy, c = priority
//          mount:    a = mode (plain, idmapped, fuse); path = target; extra = u32 source_len, fstype_len,
//                    options_len, attrs, then source, fstype (the FUSE binary in fuse mode), options
//                    (NUL-separated fsconfig options, or one comma-separated -o string for FUSE)
// reply:    0 u32 magic | 4 s32 errno | 8 u64 seq | 16 s64 val | 24 u32 flags | 28 reserved

import { PATH_MAX } from './constants.js';
import { ProtocolError } from './errors.js';
import type { Decoded } from './proxy-message.js';

export const HELPER_REQ_MAGIC = 0x48434449;
export const HELPER_RESP_MAGIC = 0x52434449;
export const HELPER_HEADER = 32;
export const HELPER_REPLY_SIZE = 32;
export const HELPER_MAX_GROUPS = 64;
const CALLER_FIXED = HELPER_HEADER + 40 + 4 * HELPER_MAX_GROUPS;

export const HelperOp = { PING: 1, MKNOD: 2, SETXATTR: 3, SCHED: 4, MOUNT: 5 } as const;

export const MountMode = { PLAIN: 0, IDMAPPED: 1, FUSE: 2 } as const;

/** Reply flag: the created node was unusable (user-namespace-owned fs) and a host node was bound over it. */
export const HELPER_FLAG_BOUND = 1;
/** Reply flag: not the helper's to do (e.g. a file the container does not own): answer CONTINUE. */
export const HELPER_FLAG_DECLINE = 2;
/** Reply flag: the request failed because it is no longer pending (the caller was killed or interrupted); nothing was done. */
export const HELPER_FLAG_GONE = 4;

/** Who the helper acts as: the caller's credentials, as /proc/<tid>/status reports them. */
export interface CallerCreds {
  readonly tid: number;
  readonly umask: number;
  readonly fsuid: number;
  readonly fsgid: number;
  /** Capabilities the helper may hold while acting (bit = capability number). */
  readonly caps: bigint;
  readonly groups: readonly number[];
}

export interface MknodRequest extends CallerCreds {
  readonly dirfd: number;
  readonly mode: number;
  readonly dev: number;
  /** Path bytes without the NUL, shorter than PATH_MAX, no NUL inside. */
  readonly path: Buffer;
}

export interface SetxattrRequest extends CallerCreds {
  readonly flags: number;
  readonly path: Buffer;
  readonly name: Buffer;
  readonly value: Buffer;
}

export interface SchedRequest extends CallerCreds {
  readonly pid: number;
  readonly policy: number;
  readonly priority: number;
}

function checkPath(path: Buffer, allowEmpty: boolean): void {
  if ((!allowEmpty && path.length === 0) || path.length >= PATH_MAX || path.includes(0)) {
    throw new RangeError('path must be 1..4095 bytes without NUL');
  }
}

function encodeCaller(
  op: number,
  seq: bigint,
  notifId: bigint,
  words: readonly [number, number, number],
  creds: CallerCreds,
  path: Buffer,
  extra: readonly Buffer[] = [],
): Buffer {
  const extraLen = extra.reduce((n, b) => n + b.length, 0);
  const b = Buffer.alloc(CALLER_FIXED + path.length + extraLen);
  b.writeUInt32LE(HELPER_REQ_MAGIC, 0);
  b.writeUInt32LE(op, 4);
  b.writeBigUInt64LE(seq, 8);
  b.writeBigUInt64LE(notifId, 16);
  b.writeUInt32LE(creds.tid >>> 0, 24);
  b.writeInt32LE(words[0] | 0, 32);
  b.writeUInt32LE(words[1] >>> 0, 36);
  b.writeUInt32LE(words[2] >>> 0, 40);
  b.writeUInt32LE(creds.umask >>> 0, 44);
  b.writeUInt32LE(creds.fsuid >>> 0, 48);
  b.writeUInt32LE(creds.fsgid >>> 0, 52);
  b.writeBigUInt64LE(creds.caps, 56);
  const groups = creds.groups.slice(0, HELPER_MAX_GROUPS);
  b.writeUInt32LE(groups.length, 64);
  b.writeUInt32LE(path.length, 68);
  groups.forEach((g, i) => b.writeUInt32LE(g >>> 0, 72 + 4 * i));
  let off = CALLER_FIXED;
  for (const part of [path, ...extra]) off += part.copy(b, off);
  return b;
}

export interface MountRequest extends CallerCreds {
  readonly mode: number;
  readonly target: Buffer;
  readonly source: Buffer;
  readonly fstype: Buffer;
  readonly options: Buffer;
  readonly attrs: number;
}

export function encodeMount(seq: bigint, notifId: bigint, r: MountRequest): Buffer {
  checkPath(r.target, false);
  if (r.source.length >= PATH_MAX || r.source.includes(0) || r.fstype.length === 0 || r.fstype.length > 255 || r.fstype.includes(0) || r.options.length >= 4096) {
    throw new RangeError('mount source, fstype or options out of bounds');
  }
  const lens = Buffer.alloc(16);
  lens.writeUInt32LE(r.source.length, 0);
  lens.writeUInt32LE(r.fstype.length, 4);
  lens.writeUInt32LE(r.options.length, 8);
  lens.writeUInt32LE(r.attrs >>> 0, 12);
  return encodeCaller(HelperOp.MOUNT, seq, notifId, [r.mode, 0, 0], r, r.target, [lens, r.source, r.fstype, r.options]);
}

export function encodePing(seq: bigint): Buffer {
  const b = Buffer.alloc(HELPER_HEADER);
  b.writeUInt32LE(HELPER_REQ_MAGIC, 0);
  b.writeUInt32LE(HelperOp.PING, 4);
  b.writeBigUInt64LE(seq, 8);
  return b;
}

export function encodeMknod(seq: bigint, notifId: bigint, r: MknodRequest): Buffer {
  checkPath(r.path, false);
  return encodeCaller(HelperOp.MKNOD, seq, notifId, [r.dirfd, r.mode, r.dev], r, r.path);
}

export function encodeSetxattr(seq: bigint, notifId: bigint, r: SetxattrRequest): Buffer {
  checkPath(r.path, false);
  if (r.name.length === 0 || r.name.length > 255 || r.name.includes(0) || r.value.length > 255) {
    throw new RangeError('xattr name must be 1..255 bytes without NUL, value at most 255 bytes');
  }
  return encodeCaller(HelperOp.SETXATTR, seq, notifId, [r.flags, r.value.length, r.name.length], r, r.path, [r.name, r.value]);
}

export function encodeSched(seq: bigint, notifId: bigint, r: SchedRequest): Buffer {
  return encodeCaller(HelperOp.SCHED, seq, notifId, [r.pid, r.policy, r.priority], r, Buffer.alloc(0));
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
