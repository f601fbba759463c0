// A failed system call, with its errno, the way Node's own errors carry one.

import os from 'node:os';

const names = new Map<number, string>(Object.entries(os.constants.errno).map(([k, v]) => [v, k]));

export class SyscallError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  constructor(syscall: string, errno: number) {
    const name = names.get(errno) ?? `E${errno}`;
    super(`${syscall}: ${name}`);
    this.name = 'SyscallError';
    this.code = name;
    this.errno = errno;
    this.syscall = syscall;
  }
}

export function errnoName(e: number): string {
  return names.get(e) ?? `E${e}`;
}
