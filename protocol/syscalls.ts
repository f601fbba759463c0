// (arch, nr) → syscall name for the intercepted calls, per ABI (kernel-abi.md §8).
// Checked against Debian 12's unistd_64.h, unistd_32.h, unistd_x32.h and asm-generic.

import { AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT } from './constants.js';

export type SyscallName =
  | 'mknod'
  | 'mknodat'
  | 'setxattr'
  | 'mount'
  | 'bpf'
  | 'sched_setscheduler'
  | 'sysinfo';

export type Abi = 'x86_64' | 'i386' | 'x32' | 'aarch64';

type Table = Readonly<Partial<Record<SyscallName, number>>>;

export const SYSCALL_NUMBERS: Readonly<Record<Abi, Table>> = {
  x86_64: { mknod: 133, mknodat: 259, setxattr: 188, mount: 165, bpf: 321, sched_setscheduler: 144, sysinfo: 99 },
  i386: { mknod: 14, mknodat: 297, setxattr: 226, mount: 21, bpf: 357, sched_setscheduler: 156, sysinfo: 116 },
  x32: {
    mknod: X32_SYSCALL_BIT + 133,
    mknodat: X32_SYSCALL_BIT + 259,
    setxattr: X32_SYSCALL_BIT + 188,
    mount: X32_SYSCALL_BIT + 165,
    bpf: X32_SYSCALL_BIT + 321,
    sched_setscheduler: X32_SYSCALL_BIT + 144,
    sysinfo: X32_SYSCALL_BIT + 99,
  },
  // Generic table: no plain mknod.
  aarch64: { mknodat: 33, setxattr: 5, mount: 40, bpf: 280, sched_setscheduler: 119, sysinfo: 179 },
};

export interface ResolvedSyscall {
  readonly name: SyscallName;
  readonly abi: Abi;
}

function abiOf(arch: number, nr: number): Abi | undefined {
  switch (arch >>> 0) {
    case AUDIT_ARCH_X86_64:
      return (nr & X32_SYSCALL_BIT) !== 0 ? 'x32' : 'x86_64';
    case AUDIT_ARCH_I386:
      return 'i386';
    case AUDIT_ARCH_AARCH64:
      return 'aarch64';
    default:
      return undefined;
  }
}

const reverse = new Map<string, ResolvedSyscall>();
for (const [abi, table] of Object.entries(SYSCALL_NUMBERS) as [Abi, Table][]) {
  for (const [name, nr] of Object.entries(table) as [SyscallName, number][]) {
    reverse.set(`${abi}:${nr}`, Object.freeze({ name, abi }));
  }
}

/** Unknown pairs return undefined: the caller must CONTINUE, never invent an errno. */
export function resolveSyscall(arch: number, nr: number): ResolvedSyscall | undefined {
  const abi = abiOf(arch, nr);
  return abi === undefined ? undefined : reverse.get(`${abi}:${nr}`);
}
