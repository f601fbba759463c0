// systemd socket activation (sd_listen_fds(3)): with LISTEN_PID equal to our pid and
// LISTEN_FDS ≥ 1, the listening socket of interceptd.socket is already open as fd 3.

import {
  AF_UNIX,
  FD_CLOEXEC,
  F_GETFL,
  F_SETFD,
  F_SETFL,
  O_NONBLOCK,
  SOCK_SEQPACKET,
  SOL_SOCKET,
  SO_ACCEPTCONN,
  SO_DOMAIN,
  SO_TYPE,
  c,
  errno,
} from './libc.js';
import { SyscallError } from './errors.js';

export const SD_LISTEN_FDS_START = 3;

/** The first passed fd when the environment names this very process; undefined otherwise. */
export function listenFdFromEnv(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  if (env.LISTEN_PID === undefined || env.LISTEN_PID !== String(pid)) return undefined;
  const n = Number(env.LISTEN_FDS);
  return Number.isInteger(n) && n >= 1 ? SD_LISTEN_FDS_START : undefined;
}

function intOpt(fd: number, name: number): number {
  const buf = Buffer.alloc(4);
  if (c.getsockopt(fd, SOL_SOCKET, name, buf, [4]) < 0) throw new SyscallError('getsockopt', errno());
  return buf.readInt32LE(0);
}

/**
 * The liblxc listener systemd passed us, if any: checked to be a listening AF_UNIX
 * SOCK_SEQPACKET socket, then made non-blocking (we accept until EAGAIN) and
 * close-on-exec (the helper and keeper must not inherit it). The LISTEN_* variables
 * are removed so no child takes the fd for its own.
 */
export function inheritedListener(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number | undefined {
  const fd = listenFdFromEnv(env, pid);
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (fd === undefined) return undefined;
  let ok: boolean;
  let why = '';
  try {
    ok = intOpt(fd, SO_DOMAIN) === AF_UNIX && intOpt(fd, SO_TYPE) === SOCK_SEQPACKET && intOpt(fd, SO_ACCEPTCONN) === 1;
  } catch (err) {
    ok = false;
    why = ` (${(err as Error).message})`;
  }
  if (!ok) {
    throw new Error(`fd ${fd} passed by systemd (LISTEN_FDS) is not a listening AF_UNIX SOCK_SEQPACKET socket${why}: use ListenSequentialPacket= in interceptd.socket`);
  }
  const fl = c.fcntl(fd, F_GETFL, 0);
  if (fl < 0 || c.fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || c.fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
    throw new SyscallError('fcntl', errno());
  }
  return fd;
}
