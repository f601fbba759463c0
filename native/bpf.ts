// bpf(2) and fetching a caller's fds, for emulating device-cgroup program setup.

import fs from 'node:fs';
import { c, errno } from './libc.js';
import koffi from 'koffi';

const libc = koffi.load('libc.so.6');
const bpfCall = libc.func('long syscall(long nr, int cmd, void *attr, unsigned int size)');
const NR_BPF = 321;
const CGROUP2_SUPER_MAGIC = 0x63677270;

/** bpf(cmd, attr): the result (an fd or 0), or -errno. */
export function bpf(cmd: number, attr: Buffer): number {
  const r = Number(bpfCall(NR_BPF, cmd, attr, attr.length));
  return r >= 0 ? r : -errno();
}

/** A duplicate of the caller's fd `targetFd` in this process, or -errno. */
export function pidfdGetfd(pidfd: number, targetFd: number): number {
  const r = c.pidfdGetfd(pidfd, targetFd, 0);
  return r >= 0 ? r : -errno();
}

/** True when `fd` is a directory of a cgroup2 filesystem. */
export function isCgroup2Dir(fd: number): boolean {
  try {
    return fs.statfsSync(`/proc/self/fd/${fd}`).type === CGROUP2_SUPER_MAGIC && fs.fstatSync(fd).isDirectory();
  } catch {
    return false;
  }
}

/**
 * True when the cgroup directory `fd` is `root` or below it. Walks `..` from the fd
 * itself, never from a path the caller chose, and stops when it leaves cgroup2.
 */
export function cgroupWithin(fd: number, root: string, maxDepth = 64): boolean {
  let want: fs.BigIntStats;
  try {
    want = fs.statSync(root, { bigint: true });
  } catch {
    return false;
  }
  let rel = `/proc/self/fd/${fd}`;
  for (let depth = 0; depth < maxDepth; depth++) {
    try {
      if (fs.statfsSync(rel).type !== CGROUP2_SUPER_MAGIC) return false;
      const st = fs.statSync(rel, { bigint: true });
      if (st.dev === want.dev && st.ino === want.ino) return true;
    } catch {
      return false;
    }
    rel += '/..';
  }
  return false;
}
