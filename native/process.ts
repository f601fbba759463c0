// Facts about a parked task, read through the /proc/<tid> directory fd liblxc passed
// (or one interceptd opened itself). Valid only until re-checked with ID_VALID.

import { AT_FDCWD } from '../protocol/constants.js';
import { parseTaskStatus, type TaskStatus } from '../protocol/proc-status.js';
import { c, errno } from './libc.js';
import { SyscallError } from './errors.js';

const small = Buffer.alloc(8192);

const O_RDONLY_CLOEXEC = 0o2000000;

/**
 * Reads a small /proc file in one read into a shared buffer: readFileSync's stat and
 * allocations cost more than the read itself on the per-request path. `path` is
 * relative to the directory fd `dirFd` (a /proc/<pid> fd: no path walk through
 * /proc/self/fd), or absolute.
 */
function readAt(dirFd: number, path: string): string | undefined {
  const fd = c.openat(dirFd, path, O_RDONLY_CLOEXEC);
  if (fd < 0) return undefined;
  const n = Number(c.read(fd, small, small.length));
  c.close(fd);
  return n < 0 ? undefined : small.toString('latin1', 0, n);
}

export function readProcText(path: string): string | undefined {
  return readAt(AT_FDCWD, path);
}

export function readTaskStatus(procFd: number): TaskStatus | undefined {
  const text = readAt(procFd, 'status');
  return text === undefined ? undefined : parseTaskStatus(text);
}

const link = Buffer.alloc(64);

/**
 * The namespace identity (`user:[4026531837]`) of the task whose /proc directory is
 * the fd `dirFd` (or, with AT_FDCWD, at the absolute `procDir`), or undefined if it is
 * gone. readlinkat: no walk through /proc/self/fd and no libuv round on each request.
 */
export function namespaceOf(dirFd: number, ns: 'user' | 'mnt' | 'pid', procDir = ''): string | undefined {
  const n = Number(c.readlinkat(dirFd, procDir === '' ? `ns/${ns}` : `${procDir}/ns/${ns}`, link, link.length));
  return n <= 0 ? undefined : link.toString('latin1', 0, n);
}

export const PIDFD_THREAD = 0x80; // = O_EXCL, Linux >= 6.9
const ENOENT = 2;
const EINVAL = 22;

/**
 * A pidfd for a thread id: plain first, then PIDFD_THREAD for non-leader threads
 * (a plain pidfd for one is refused with EINVAL by older kernels and with ENOENT by 6.18;
 * ESRCH means no such task).
 */
export function pidfdOpen(tid: number): number {
  let fd = c.pidfdOpen(tid, 0);
  if (fd < 0 && (errno() === EINVAL || errno() === ENOENT)) fd = c.pidfdOpen(tid, PIDFD_THREAD);
  if (fd < 0) throw new SyscallError('pidfd_open', errno());
  return fd;
}
