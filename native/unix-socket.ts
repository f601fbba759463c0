// AF_UNIX SOCK_SEQPACKET and SOCK_STREAM sockets with SCM_RIGHTS, which Node's net module cannot do.

import {
  AF_UNIX,
  EAGAIN,
  EINTR,
  MSG_CMSG_CLOEXEC,
  MSG_CTRUNC,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  MSG_TRUNC,
  SCM_RIGHTS,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_SEQPACKET,
  SOL_SOCKET,
  SO_PEERCRED,
  addressOf,
  c,
  errno,
} from './libc.js';
import { SyscallError } from './errors.js';

const SUN_PATH_MAX = 108;

/** `struct sockaddr_un` for a filesystem path or, with a leading '@', an abstract name. */
export function sockaddrUn(path: string): { addr: Buffer; len: number } {
  const abstract = path.startsWith('@');
  const name = Buffer.from(abstract ? path.slice(1) : path);
  const used = abstract ? 1 + name.length : name.length + 1;
  if (name.length === 0 || used > SUN_PATH_MAX) throw new RangeError(`unix socket path too long or empty: ${path}`);
  const addr = Buffer.alloc(2 + SUN_PATH_MAX);
  addr.writeUInt16LE(AF_UNIX, 0);
  name.copy(addr, abstract ? 3 : 2);
  return { addr, len: 2 + used };
}

export function closeFd(fd: number): void {
  if (fd >= 0) c.close(fd);
}

/** A non-blocking, close-on-exec listening socket bound at `path`. */
export function listenUnix(path: string, type = SOCK_SEQPACKET, backlog = 128): number {
  const fd = c.socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new SyscallError('socket', errno());
  const { addr, len } = sockaddrUn(path);
  if (c.bind(fd, addr, len) < 0 || c.listen(fd, backlog) < 0) {
    const e = errno();
    c.close(fd);
    throw new SyscallError('bind/listen', e);
  }
  return fd;
}

/** The next pending connection (non-blocking, close-on-exec), or -1 when none is waiting. */
export function acceptUnix(fd: number): number {
  for (;;) {
    const conn = c.accept4(fd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (conn >= 0) return conn;
    const e = errno();
    if (e === EINTR) continue;
    if (e === EAGAIN) return -1;
    throw new SyscallError('accept4', e);
  }
}

export function connectUnix(path: string, type = SOCK_SEQPACKET): number {
  const fd = c.socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new SyscallError('socket', errno());
  const { addr, len } = sockaddrUn(path);
  if (c.connect(fd, addr, len) < 0) {
    const e = errno();
    c.close(fd);
    throw new SyscallError('connect', e);
  }
  return fd;
}

export function socketPair(type = SOCK_SEQPACKET): [number, number] {
  const sv = [-1, -1];
  if (c.socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) < 0) throw new SyscallError('socketpair', errno());
  return [sv[0]!, sv[1]!];
}

export interface PeerCred {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

export function peerCred(fd: number): PeerCred {
  const buf = Buffer.alloc(12);
  const len = [12];
  if (c.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, buf, len) < 0) throw new SyscallError('getsockopt', errno());
  return { pid: buf.readInt32LE(0), uid: buf.readUInt32LE(4), gid: buf.readUInt32LE(8) };
}

export type Received =
  | { readonly kind: 'message'; readonly length: number; readonly truncated: boolean; readonly fds: number[] }
  | { readonly kind: 'again' }
  | { readonly kind: 'eof' };

const CMSG_HDR = 16;
const align8 = (n: number): number => (n + 7) & ~7;

/**
 * Receives datagrams into one preallocated buffer (no allocation per message
 * beyond the fd list). Every fd received is returned, even with a truncated or
 * malformed message, so the caller can close them all.
 */
export class MessageReceiver {
  readonly data: Buffer;
  private readonly ctl: Buffer;
  private readonly msg = Buffer.alloc(56);
  private readonly iov = Buffer.alloc(16);

  constructor(maxBytes: number, maxFds: number) {
    this.data = Buffer.alloc(maxBytes);
    this.ctl = Buffer.alloc(CMSG_HDR + align8(4 * maxFds));
    this.iov.writeBigUInt64LE(addressOf(this.data), 0);
    this.iov.writeBigUInt64LE(BigInt(maxBytes), 8);
    this.msg.writeBigUInt64LE(addressOf(this.iov), 16);
    this.msg.writeBigUInt64LE(1n, 24);
    this.msg.writeBigUInt64LE(addressOf(this.ctl), 32);
  }

  /** Non-blocking receive of one datagram. */
  recv(fd: number): Received {
    for (;;) {
      this.msg.writeBigUInt64LE(BigInt(this.ctl.length), 40);
      this.msg.writeInt32LE(0, 48);
      const n = Number(c.recvmsg(fd, this.msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC));
      if (n < 0) {
        const e = errno();
        if (e === EINTR) continue;
        if (e === EAGAIN) return { kind: 'again' };
        throw new SyscallError('recvmsg', e);
      }
      const flags = this.msg.readInt32LE(48);
      const fds = this.parseFds();
      if (n === 0 && fds.length === 0) return { kind: 'eof' };
      return { kind: 'message', length: n, truncated: (flags & (MSG_TRUNC | MSG_CTRUNC)) !== 0, fds };
    }
  }

  private parseFds(): number[] {
    return rightsIn(this.ctl, Number(this.msg.readBigUInt64LE(40)));
  }
}

/** The fds of every SCM_RIGHTS message in the first `total` bytes of a control buffer. */
function rightsIn(ctl: Buffer, total: number): number[] {
  const fds: number[] = [];
  let off = 0;
  while (off + CMSG_HDR <= total) {
    const len = Number(ctl.readBigUInt64LE(off));
    if (len < CMSG_HDR || off + len > total) break;
    if (ctl.readInt32LE(off + 8) === SOL_SOCKET && ctl.readInt32LE(off + 12) === SCM_RIGHTS) {
      for (let p = off + CMSG_HDR; p + 4 <= off + len; p += 4) fds.push(ctl.readInt32LE(p));
    }
    off += align8(len);
  }
  return fds;
}

export type StreamChunk =
  | { readonly kind: 'data'; readonly length: number; readonly fds: number[]; readonly fdsTruncated: boolean }
  | { readonly kind: 'again' }
  | { readonly kind: 'eof' };

/**
 * Non-blocking reads from a SOCK_STREAM socket, with any SCM_RIGHTS fds that arrive
 * (close-on-exec). Every fd received is returned, so the caller can close them all.
 */
export class StreamReceiver {
  private readonly ctl: Buffer;
  private readonly msg = Buffer.alloc(56);
  private readonly iov = Buffer.alloc(16);

  constructor(maxFds: number) {
    this.ctl = Buffer.alloc(CMSG_HDR + align8(4 * maxFds));
  }

  /** Reads into `into` (at least one byte long: a zero-length read looks like EOF). */
  recv(fd: number, into: Buffer): StreamChunk {
    if (into.length === 0) throw new RangeError('no room to read into');
    this.iov.writeBigUInt64LE(addressOf(into), 0);
    this.iov.writeBigUInt64LE(BigInt(into.length), 8);
    this.msg.writeBigUInt64LE(addressOf(this.iov), 16);
    this.msg.writeBigUInt64LE(1n, 24);
    this.msg.writeBigUInt64LE(addressOf(this.ctl), 32);
    for (;;) {
      this.msg.writeBigUInt64LE(BigInt(this.ctl.length), 40);
      this.msg.writeInt32LE(0, 48);
      const n = Number(c.recvmsg(fd, this.msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC));
      if (n < 0) {
        const e = errno();
        if (e === EINTR) continue;
        if (e === EAGAIN) return { kind: 'again' };
        throw new SyscallError('recvmsg', e);
      }
      const fds = rightsIn(this.ctl, Number(this.msg.readBigUInt64LE(40)));
      if (n === 0 && fds.length === 0) return { kind: 'eof' };
      return { kind: 'data', length: n, fds, fdsTruncated: (this.msg.readInt32LE(48) & MSG_CTRUNC) !== 0 };
    }
  }
}

/** Sends one datagram without fds (the reply path: no allocation). Returns false when the buffer is full. */
export function sendPlain(fd: number, data: Buffer): boolean {
  for (;;) {
    const n = Number(c.send(fd, data, data.length, MSG_NOSIGNAL | MSG_DONTWAIT));
    if (n === data.length) return true;
    const e = n < 0 ? errno() : 0;
    if (e === EINTR) continue;
    if (e === EAGAIN) return false;
    throw new SyscallError('send', n < 0 ? e : 5 /* EIO: short datagram */);
  }
}

// The msghdr, iovec and control buffers of sendMessage. Module-level on purpose: the
// kernel reads them through addresses stored in `sendMsg`, and a local buffer that is
// not used after its address is taken may be freed by the GC before sendmsg runs
// (seen as EFAULT, EINVAL or EMSGSIZE under GC pressure).
const sendMsg = Buffer.alloc(56);
const sendIov = Buffer.alloc(16);
let sendCtl = Buffer.alloc(CMSG_HDR + align8(4 * 4));

/** Sends one datagram, with `fds` by SCM_RIGHTS. Returns false when the socket buffer is full. */
export function sendMessage(fd: number, data: Buffer, fds: readonly number[] = []): boolean {
  sendIov.writeBigUInt64LE(addressOf(data), 0);
  sendIov.writeBigUInt64LE(BigInt(data.length), 8);
  sendMsg.fill(0);
  sendMsg.writeBigUInt64LE(addressOf(sendIov), 16);
  sendMsg.writeBigUInt64LE(1n, 24);
  if (fds.length > 0) {
    const size = CMSG_HDR + align8(4 * fds.length);
    if (sendCtl.length < size) sendCtl = Buffer.alloc(size);
    sendCtl.fill(0);
    sendCtl.writeBigUInt64LE(BigInt(CMSG_HDR + 4 * fds.length), 0);
    sendCtl.writeInt32LE(SOL_SOCKET, 8);
    sendCtl.writeInt32LE(SCM_RIGHTS, 12);
    fds.forEach((f, i) => sendCtl.writeInt32LE(f, CMSG_HDR + 4 * i));
    sendMsg.writeBigUInt64LE(addressOf(sendCtl), 32);
    sendMsg.writeBigUInt64LE(BigInt(size), 40);
  }
  for (;;) {
    const n = Number(c.sendmsg(fd, sendMsg, MSG_NOSIGNAL | MSG_DONTWAIT));
    if (n === data.length) return true;
    const e = n < 0 ? errno() : 0;
    if (e === EINTR) continue;
    if (e === EAGAIN) return false;
    throw new SyscallError('sendmsg', n < 0 ? e : 5 /* EIO: short datagram */);
  }
}
