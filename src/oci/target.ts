// The parked task of one OCI notification, reached by interceptd itself (in the liblxc
// model the monitor passes these fds). Opened only when a handler needs it: most calls
// are declined on their registers alone. Order matters: pidfd, then /proc/<pid>, then
// ID_VALID. If the id is still valid afterwards, the tid had not been reused when they
// were opened, so both name the caller. Memory is read with process_vm_readv by pid and
// every handler re-checks ID_VALID after reading, so no mem fd is needed.

import fs from 'node:fs';
import type { Notification } from '../../protocol/seccomp.js';
import type { SyscallError } from '../../native/errors.js';
import { TargetMemory } from '../../native/memory.js';
import { pidfdOpen } from '../../native/process.js';
import { notifIdValid } from '../../native/seccomp.js';
import { closeFd } from '../../native/unix-socket.js';
import { TargetGoneError } from '../handlers/decision.js';
import type { Target } from '../handlers/types.js';

const DIRECTORY = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY;
const ESRCH = 3;

export class OciTarget implements Target {
  readonly memory: TargetMemory;
  private fd = -2;
  private readonly fds: number[] = [];

  constructor(
    readonly listenerFd: number,
    private readonly notif: Notification,
  ) {
    this.memory = new TargetMemory(notif.pid, -1);
  }

  get pid(): number {
    return this.notif.pid;
  }

  get procFd(): number {
    if (this.fd === -2) this.fd = this.open();
    return this.fd;
  }

  private open(): number {
    const { pid, id } = this.notif;
    if (pid === 0) throw new TargetGoneError("the caller is not visible in interceptd's pid namespace");
    try {
      this.fds.push(pidfdOpen(pid));
    } catch (err) {
      // Before Linux 6.9 a non-leader thread has no pidfd; /proc/<tid> and ID_VALID still prove the caller.
      if ((err as SyscallError).errno === ESRCH) throw new TargetGoneError('pidfd_open: ESRCH');
    }
    let fd: number;
    try {
      fd = fs.openSync(`/proc/${pid}`, DIRECTORY);
    } catch (err) {
      throw new TargetGoneError((err as Error).message);
    }
    this.fds.push(fd);
    if (!notifIdValid(this.listenerFd, id)) throw new TargetGoneError('the notification is no longer pending');
    return fd;
  }

  close(): void {
    this.fds.splice(0).forEach(closeFd);
  }
}
