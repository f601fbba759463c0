// Reading a parked task's memory: process_vm_readv (one syscall, no fd needed), with
// the /proc/<pid>/mem fd as the fallback. Every byte read here is hostile input.

import fs from 'node:fs';
import { addressOf, c, errno } from './libc.js';

const PAGE = 4096;
const EFAULT = 14;
const EPERM = 1;
const ENOSYS = 38;
const LAST_ADDRESS = 0xffff_ffff_ffff_ffffn;

export type StringRead =
  | { readonly ok: true; readonly bytes: Buffer }
  | { readonly ok: false; readonly errno: number };

// The iovec arrays: every call here is synchronous on the one JS thread, so one pair
// serves all targets and a request allocates nothing until it actually reads.
const local = Buffer.alloc(32);
const remote = Buffer.alloc(32);
/** Where strings are read (PATH_MAX is the usual bound); grown on demand. */
let scratch = Buffer.alloc(4096);

export class TargetMemory {
  constructor(
    readonly pid: number,
    private readonly memFd = -1,
  ) {}

  /**
   * Reads up to `len` bytes at `addr`, split at the first page boundary so a
   * fault in the second page still returns the first. Returns the count read.
   */
  private readInto(addr: bigint, out: Buffer, len: number): number {
    // A hostile pointer may wrap the address space; no user mapping lives there.
    if (addr > LAST_ADDRESS - BigInt(len)) return 0;
    const first = Math.min(len, PAGE - Number(addr % BigInt(PAGE)));
    const base = addressOf(out);
    local.writeBigUInt64LE(base, 0);
    local.writeBigUInt64LE(BigInt(len), 8);
    remote.writeBigUInt64LE(addr, 0);
    remote.writeBigUInt64LE(BigInt(first), 8);
    remote.writeBigUInt64LE(addr + BigInt(first), 16);
    remote.writeBigUInt64LE(BigInt(len - first), 24);
    const n = Number(c.processVmReadv(this.pid, local, 1, remote, len > first ? 2 : 1, 0));
    if (n >= 0) return n;
    const e = errno();
    if ((e === EPERM || e === ENOSYS) && this.memFd >= 0) return this.preadInto(addr, out, len);
    return e === EFAULT ? 0 : -e;
  }

  private preadInto(addr: bigint, out: Buffer, len: number): number {
    if (addr > BigInt(Number.MAX_SAFE_INTEGER)) return 0;
    try {
      return fs.readSync(this.memFd, out, 0, len, Number(addr));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).errno;
      return code === undefined || -code === EFAULT ? 0 : code;
    }
  }

  /** Exactly `len` bytes, or an errno (EFAULT when any byte is unreadable). */
  read(addr: bigint, len: number): { ok: true; bytes: Buffer } | { ok: false; errno: number } {
    const out = Buffer.alloc(len);
    if (len === 0) return { ok: true, bytes: out };
    let done = 0;
    while (done < len) {
      const n = this.readInto(addr + BigInt(done), out.subarray(done), Math.min(len - done, 2 * PAGE));
      if (n < 0) return { ok: false, errno: -n };
      if (n === 0) return { ok: false, errno: EFAULT };
      done += n;
    }
    return { ok: true, bytes: out };
  }

  /**
   * Writes `data` at `addr` in one call. process_vm_writev first: unlike the mem fd it
   * honours page protections, so a read-only buffer is EFAULT as for the kernel. The
   * mem fd is the fallback where process_vm_writev is refused. Returns 0 or an errno;
   * a short write is EFAULT. Call it only after the final ID_VALID.
   */
  write(addr: bigint, data: Buffer): number {
    if (addr > LAST_ADDRESS - BigInt(data.length)) return EFAULT;
    local.writeBigUInt64LE(addressOf(data), 0);
    local.writeBigUInt64LE(BigInt(data.length), 8);
    remote.writeBigUInt64LE(addr, 0);
    remote.writeBigUInt64LE(BigInt(data.length), 8);
    const n = Number(c.processVmWritev(this.pid, local, 1, remote, 1, 0));
    if (n === data.length) return 0;
    const e = n < 0 ? errno() : EFAULT;
    if ((e !== EPERM && e !== ENOSYS) || this.memFd < 0) return e;
    if (addr > BigInt(Number.MAX_SAFE_INTEGER)) return EFAULT;
    try {
      return fs.writeSync(this.memFd, data, 0, data.length, Number(addr)) === data.length ? 0 : EFAULT;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).errno;
      return code !== undefined ? -code : EFAULT;
    }
  }

  /**
   * A NUL-terminated string of at most `max` bytes including the NUL, as the
   * kernel's strncpy_from_user sees it: EFAULT if memory ends before the NUL,
   * ENAMETOOLONG if there is no NUL within `max` bytes. Bytes exclude the NUL.
   */
  readString(addr: bigint, max: number): StringRead {
    // Read into the shared scratch buffer; only the string found is copied out.
    if (scratch.length < max) scratch = Buffer.alloc(max);
    const out = scratch;
    let done = 0;
    while (done < max) {
      const want = Math.min(max - done, PAGE - Number((addr + BigInt(done)) % BigInt(PAGE)));
      const n = this.readInto(addr + BigInt(done), out.subarray(done), want);
      if (n < 0) return { ok: false, errno: -n };
      const nul = out.subarray(done, done + n).indexOf(0);
      if (nul >= 0) return { ok: true, bytes: Buffer.from(out.subarray(0, done + nul)) };
      if (n < want) return { ok: false, errno: EFAULT };
      done += n;
    }
    return { ok: false, errno: 36 /* ENAMETOOLONG */ };
  }
}
