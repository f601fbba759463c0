// Kernel probes for `interceptd doctor`: each makes the real call, harmlessly, and
// reports what the kernel said. Features that only a live seccomp listener could show
// (CONTINUE, ADDFD) are judged by version in checks.ts.

import fs from 'node:fs';
import { NR_MOUNT_SETATTR, c, errno } from '../../native/libc.js';
import { PIDFD_THREAD } from '../../native/process.js';
import { SyscallError } from '../../native/errors.js';
import { kernelNotifSizes } from '../../native/seccomp.js';
import type { Facts, Probe } from './checks.js';

export function probeNotifSizes(): Facts['notifSizes'] {
  try {
    return kernelNotifSizes();
  } catch (err) {
    return { errno: err instanceof SyscallError ? err.errno : 0 };
  }
}

function pidfd(pid: number, flags: number): Probe {
  const fd = c.pidfdOpen(pid, flags);
  if (fd < 0) return { ok: false, errno: errno() };
  c.close(fd);
  return { ok: true };
}

export function probePidfdOpen(): Probe {
  return pidfd(process.pid, 0);
}

/**
 * PIDFD_THREAD on one of our own non-leader threads (Node always runs a few: V8's
 * platform workers). Before 6.9 the flag is unknown and the kernel says EINVAL.
 */
export function probePidfdThread(): Probe | undefined {
  let tids: string[];
  try {
    tids = fs.readdirSync('/proc/self/task');
  } catch {
    return undefined;
  }
  const tid = tids.map(Number).find((t) => t !== process.pid);
  return tid === undefined ? undefined : pidfd(tid, PIDFD_THREAD);
}

/**
 * mount_setattr(-1, NULL, 0, NULL, 0): a size of 0 is refused with EINVAL before anything
 * is looked at, so any errno other than ENOSYS means the call exists.
 */
export function probeMountSetattr(): number {
  return Number(c.syscall5(NR_MOUNT_SETATTR, -1, 0, 0, 0, 0)) === 0 ? 0 : errno();
}
