// struct seccomp_notif / seccomp_notif_resp codecs (kernel-abi.md §3), by hand from Buffers.

import type { Answer } from './answer.js';
import { SECCOMP_USER_NOTIF_FLAG_CONTINUE } from './constants.js';

/** A decoded `struct seccomp_notif`. `pid` is the calling thread id in the receiver's pid namespace. */
export interface Notification {
  readonly id: bigint;
  readonly pid: number;
  readonly flags: number;
  readonly nr: number;
  readonly arch: number;
  readonly ip: bigint;
  /** Raw 64-bit registers; narrow them with the helpers below, as the kernel does. */
  readonly args: readonly bigint[];
}

// An aligned little-endian struct is read through a BigUint64Array view: one BigInt per
// field instead of the several readBigUInt64LE builds (~10× faster, on every request).
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function words(buf: Buffer, off: number): BigUint64Array | undefined {
  const at = buf.byteOffset + off;
  return LITTLE_ENDIAN && at % 8 === 0 && off + 80 <= buf.length ? new BigUint64Array(buf.buffer, at, 10) : undefined;
}

export function decodeNotification(buf: Buffer, off: number): Notification {
  const w = words(buf, off);
  const args = w !== undefined ? [w[4]!, w[5]!, w[6]!, w[7]!, w[8]!, w[9]!] : new Array<bigint>(6);
  if (w === undefined) for (let i = 0; i < 6; i++) args[i] = buf.readBigUInt64LE(off + 32 + i * 8);
  return {
    id: w !== undefined ? w[0]! : buf.readBigUInt64LE(off),
    pid: buf.readUInt32LE(off + 8),
    flags: buf.readUInt32LE(off + 12),
    nr: buf.readInt32LE(off + 16),
    arch: buf.readUInt32LE(off + 20),
    ip: w !== undefined ? w[3]! : buf.readBigUInt64LE(off + 24),
    args,
  };
}

/** Writes a 24-byte `struct seccomp_notif_resp` for `id` at `off`. */
export function encodeResponse(buf: Buffer, off: number, id: bigint, answer: Answer): void {
  buf.writeBigUInt64LE(id, off);
  encodeResponseAnswer(buf, off, answer);
}

/** The response after its id: val, error, flags. BigInt work only for a value answer. */
export function encodeResponseAnswer(buf: Buffer, off: number, answer: Answer): void {
  let error = 0;
  let flags = 0;
  if (answer.kind === 'value') buf.writeBigInt64LE(BigInt.asIntN(64, answer.value), off + 8);
  else buf.fill(0, off + 8, off + 16);
  if (answer.kind === 'continue') flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  else if (answer.kind === 'errno') error = -answer.errno;
  buf.writeInt32LE(error, off + 16);
  buf.writeUInt32LE(flags, off + 20);
}

/** `int`/`pid_t` arguments: the low 32 bits, sign-interpreted (the upper half is undefined). */
export function argInt32(v: bigint): number {
  return Number(BigInt.asIntN(32, v));
}

/** `unsigned int` arguments: the low 32 bits. */
export function argUint32(v: bigint): number {
  return Number(BigInt.asUintN(32, v));
}

/** `umode_t` arguments: the low 16 bits. */
export function argUint16(v: bigint): number {
  return Number(BigInt.asUintN(16, v));
}

/** Pointers, `size_t` and `long`: 64-bit, except for i386 callers where they are 32-bit. */
export function argLong(abi: string, v: bigint): bigint {
  return abi === 'i386' ? BigInt.asUintN(32, v) : v;
}
