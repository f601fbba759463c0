// Syscall name → handler. A Record over every SyscallName, so adding a syscall to
// protocol/syscalls.ts does not compile until it has a handler here.

import { CONTINUE } from '../../protocol/answer.js';
import type { SyscallName } from '../../protocol/syscalls.js';
import { bpfHandler } from './bpf.js';
import { mknodHandler } from './mknod.js';
import { mountHandler } from './mount.js';
import { schedHandler } from './sched.js';
import { setxattrHandler } from './setxattr.js';
import { sysinfoHandler } from './sysinfo.js';
import type { Handler } from './types.js';

/** For syscalls whose emulation is not built yet: the kernel decides, as if not intercepted. */
function notYet(name: SyscallName): Handler {
  return {
    syscalls: [name],
    handle(req) {
      req.log.debug({ reason: 'no emulation for this syscall yet' }, 'declined');
      return CONTINUE;
    },
  };
}

export type Registry = Readonly<Record<SyscallName, Handler>>;

export function defaultRegistry(): Registry {
  return {
    mknod: mknodHandler,
    mknodat: mknodHandler,
    setxattr: setxattrHandler,
    mount: mountHandler,
    bpf: bpfHandler,
    sched_setscheduler: schedHandler,
    sysinfo: sysinfoHandler,
  };
}
