// What a handler sees and returns. Transport-neutral: the liblxc proxy and the OCI
// agent build the same Request, so one handler serves both.

import type { Answer } from '../../protocol/answer.js';
import type { Notification } from '../../protocol/seccomp.js';
import type { ResolvedSyscall, SyscallName } from '../../protocol/syscalls.js';
import type { Policy } from '../../compat/keys.js';
import type { Helper } from '../../native/helper.js';
import type { TargetMemory } from '../../native/memory.js';
import type { Logger } from '../core/log.js';

/** The parked task and the fds that reach it. */
export interface Target {
  /** Thread id in the host pid namespace. */
  readonly pid: number;
  /** An fd on /proc/<pid> (directory). */
  readonly procFd: number;
  /** The seccomp listener the notification came from; -1 when the peer did not pass it. */
  readonly listenerFd: number;
  readonly memory: TargetMemory;
}

export interface ContainerRef {
  readonly name: string;
  /** The container's init in the host pid namespace (0 if unknown). */
  readonly initPid: number;
  /** liblxc only: the lxcpath in the monitor's title (tells an LXD container from a plain one). */
  readonly lxcPath?: string;
}

export interface Request {
  readonly notif: Notification;
  readonly syscall: ResolvedSyscall;
  readonly target: Target;
  readonly container: ContainerRef;
  readonly policy: Policy;
  /** A child logger with the request's fields, made on first use. */
  readonly log: Logger;
  /** Debug logging is on (checking it does not create the child logger). */
  readonly debug: boolean;
  /** One audit line for a privileged action: the request's identity is added. */
  audit(fields: object, msg: string): void;
  /** performance.now() when the request arrived. */
  readonly started: number;
  /** Milliseconds left before the request must be answered. */
  remainingMs(): number;
}

export interface KernelFeatures {
  /** Linux >= 5.8 lets any user create overlayfs whiteouts (c 0:0). */
  readonly unprivilegedWhiteouts: boolean;
  /** Linux >= 5.14: SECCOMP_ADDFD_FLAG_SEND installs an fd and answers in one step. */
  readonly addfdSend: boolean;
}

export interface Services {
  readonly helper: Helper;
  readonly kernel: KernelFeatures;
}

export interface Handler {
  readonly syscalls: readonly SyscallName[];
  handle(req: Request, services: Services): Promise<Answer> | Answer;
}
