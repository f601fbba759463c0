// seccomp ioctls and probes. In the liblxc model only ID_VALID and ADDFD may be used
// on the forwarded listener: RECV/SEND belong to the monitor. The OCI agent owns its
// listeners and uses RECV/SEND too.

import fs from 'node:fs';
import {
  SECCOMP_IOCTL_NOTIF_ADDFD,
  SECCOMP_IOCTL_NOTIF_ID_VALID,
  SECCOMP_IOCTL_NOTIF_RECV,
  SECCOMP_IOCTL_NOTIF_SEND,
  SECCOMP_NOTIF_RESP_SIZE,
  SECCOMP_NOTIF_SIZE,
} from '../protocol/constants.js';
import { KERNEL_SIZES, type NotifSizes } from '../protocol/proxy-message.js';
import { NR_SECCOMP, SECCOMP_GET_NOTIF_SIZES, c, errno } from './libc.js';
import { SyscallError } from './errors.js';

const idBuf = Buffer.alloc(8);

/** True while the notification `id` is still pending on `listener` (the task is parked). */
export function notifIdValid(listener: number, id: bigint): boolean {
  idBuf.writeBigUInt64LE(id, 0);
  return c.ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, idBuf) === 0;
}

/** The kernel's struct sizes (SECCOMP_GET_NOTIF_SIZES). */
export function kernelNotifSizes(): NotifSizes {
  const buf = Buffer.alloc(6);
  if (c.seccomp(NR_SECCOMP, SECCOMP_GET_NOTIF_SIZES, 0, buf) !== 0) {
    throw new SyscallError('seccomp(SECCOMP_GET_NOTIF_SIZES)', errno());
  }
  const sizes = { notif: buf.readUInt16LE(0), resp: buf.readUInt16LE(2), data: buf.readUInt16LE(4) };
  return sizes.notif === KERNEL_SIZES.notif && sizes.resp === KERNEL_SIZES.resp && sizes.data === KERNEL_SIZES.data
    ? KERNEL_SIZES
    : sizes;
}

export const O_CLOEXEC = 0o2000000;

/**
 * Installs `srcFd` into the task parked on `id` (SECCOMP_IOCTL_NOTIF_ADDFD) and returns
 * the fd number it got there. With SECCOMP_ADDFD_FLAG_SEND the same ioctl also answers
 * the notification with that number, atomically.
 */
export function notifAddFd(listener: number, id: bigint, srcFd: number, flags: number, newFdFlags: number): number {
  const buf = Buffer.alloc(24);
  buf.writeBigUInt64LE(id, 0);
  buf.writeUInt32LE(flags, 8);
  buf.writeUInt32LE(srcFd, 12);
  buf.writeUInt32LE(0, 16);
  buf.writeUInt32LE(newFdFlags, 20);
  const fd = c.ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, buf);
  if (fd < 0) throw new SyscallError('ioctl(SECCOMP_IOCTL_NOTIF_ADDFD)', errno());
  return fd;
}

const EINTR = 4;

/**
 * SECCOMP_IOCTL_NOTIF_RECV into `buf` (80 bytes, zeroed here as the kernel demands).
 * Returns 0 or an errno (ENOENT: the task was interrupted before it was received).
 * Blocks when nothing is pending: call it only when poll reports the fd readable.
 */
export function notifRecv(listener: number, buf: Buffer): number {
  for (;;) {
    buf.fill(0, 0, SECCOMP_NOTIF_SIZE);
    if (c.ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, buf) === 0) return 0;
    const e = errno();
    if (e !== EINTR) return e;
  }
}

/** SECCOMP_IOCTL_NOTIF_SEND of a 24-byte response; 0 or an errno (ENOENT: the task is gone). */
export function notifSend(listener: number, resp: Buffer): number {
  if (resp.length < SECCOMP_NOTIF_RESP_SIZE) throw new RangeError('short seccomp_notif_resp');
  for (;;) {
    if (c.ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp) === 0) return 0;
    const e = errno();
    if (e !== EINTR) return e;
  }
}

/** SECCOMP_IOCTL_NOTIF_SET_FLAGS = _IOW('!', 4, __u64); the flag is passed by value. */
const SECCOMP_IOCTL_NOTIF_SET_FLAGS = 0x40082104;
const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP = 1;

/**
 * Asks the kernel (>= 6.6) to hand the CPU straight back to the caller when its answer is
 * sent, instead of waking it wherever the scheduler likes. Only for a listener we own (OCI).
 * Returns 0 or an errno (EINVAL on older kernels: nothing changes).
 */
export function notifSyncWakeUp(listener: number): number {
  return c.ioctlValue(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) === 0 ? 0 : errno();
}

/** True when `fd` is a seccomp user-notification listener. */
export function isSeccompListener(fd: number): boolean {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:seccomp notify';
  } catch {
    return false;
  }
}
