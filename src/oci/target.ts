// The parked task of one OCI notification, reached by interceptd itself (in the liblxc
// model the monitor passes these fds). Order matters: pidfd, then /proc/<pid> and its
// mem, then ID_VALID. If the id is still valid afterwards, the tid had not been reused
// when they were opened, so all three name the caller.

import fs from 'node:fs';
import type { Notification } from '../../protocol/seccomp.js';
import type { SyscallError } from '../../native/errors.js';
import { TargetMemory } from '../../native/memory.js';
import { pidfdOpen, procPath } from '../../native/process.js';
import { notifIdValid } from '../../native/seccomp.js';
import { closeFd } from '../../native/unix-socket.js';
import type { Target } from '../handlers/types.js';

const DIRECTORY = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY;
const ESRCH = 3;

export type OpenedTarget =
  | { readonly kind: 'ok'; readonly target: Target; readonly fds: readonly number[] }
  /** The task is no longer parked on this id: nothing to answer. */
  | { readonly kind: 'gone' }
  /** The task is parked but cannot be reached; it must still be answered. */
  | { readonly kind: 'unreachable'; readonly reason: string };

/** After a failure: is there still a parked task to answer? */
function settle(listener: number, notif: Notification, reason: string): OpenedTarget {
  return notifIdValid(listener, notif.id) ? { kind: 'unreachable', reason } : { kind: 'gone' };
}

export function openTarget(listener: number, notif: Notification): OpenedTarget {
  // Node's fs opens with O_CLOEXEC; the pidfd is close-on-exec by definition.
  if (notif.pid === 0) return { kind: 'unreachable', reason: "the caller is not visible in interceptd's pid namespace" };
  const fds: number[] = [];
  let procFd: number;
  try {
    fds.push(pidfdOpen(notif.pid));
  } catch (err) {
    // Before Linux 6.9 a non-leader thread has no pidfd; /proc/<tid> and ID_VALID still prove the caller.
    if ((err as SyscallError).errno === ESRCH) return settle(listener, notif, 'pidfd_open: ESRCH');
  }
  try {
    procFd = fs.openSync(`/proc/${notif.pid}`, DIRECTORY);
    fds.push(procFd);
  } catch (err) {
    fds.forEach(closeFd);
    return settle(listener, notif, (err as Error).message);
  }
  let memFd = -1;
  try {
    // Read-write: sysinfo writes its answer. Without it TargetMemory uses process_vm_{readv,writev}.
    memFd = fs.openSync(procPath(procFd, 'mem'), 'r+');
    fds.push(memFd);
  } catch {
    // process_vm_readv needs no fd
  }
  if (!notifIdValid(listener, notif.id)) {
    fds.forEach(closeFd);
    return { kind: 'gone' };
  }
  return { kind: 'ok', target: { pid: notif.pid, procFd, listenerFd: listener, memory: new TargetMemory(notif.pid, memFd) }, fds };
}

export function closeTarget(opened: { readonly fds: readonly number[] }): void {
  opened.fds.forEach(closeFd);
}
