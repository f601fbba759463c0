// The calls measured, and what each one is compared with. Paths are inside the container.

export type CaseKind = 'baseline' | 'emulated' | 'declined' | 'denied';

export interface BenchCase {
  readonly id: string;
  readonly title: string;
  /** The call alone, as the host-native table names it. */
  readonly call: string;
  readonly kind: CaseKind;
  /** bench-caller's CASE and ARG. */
  readonly caller: string;
  readonly arg?: string;
  /** The C floor answers at once, so only non-emulated calls are compared with it. */
  readonly vsFloor: boolean;
  /** The errno every call must get ('' = success); the C floors answer the same. */
  readonly expect: string;
}

export const BENCH_DIR = '/tmp/bench';
export const XATTR_DIR = '/tmp/bench/opaque';

export const CASES: readonly BenchCase[] = [
  {
    id: 'baseline', kind: 'baseline', title: 'getppid (not intercepted)', call: 'getppid',
    caller: 'getppid', vsFloor: true, expect: '',
  },
  {
    id: 'declined', kind: 'declined', title: 'mknod b 8:0, declined (CONTINUE → EPERM)', call: 'mknod b 8:0',
    caller: 'mknod-declined', arg: BENCH_DIR, vsFloor: true, expect: 'EPERM',
  },
  {
    id: 'denied', kind: 'denied', title: 'bpf PROG_LOAD rejected by the verifier, denied (errno from the daemon, no helper)',
    call: 'bpf PROG_LOAD rejected by the verifier', caller: 'bpf-denied', vsFloor: true, expect: 'EINVAL',
  },
  {
    id: 'mknod', kind: 'emulated', title: 'mknod c 1:3 (+ untimed unlink), emulated', call: 'mknod c 1:3 + unlink',
    caller: 'mknod', arg: BENCH_DIR, vsFloor: false, expect: '',
  },
  {
    id: 'denied-helper', kind: 'denied', title: 'mknod c 1:3 over an existing file, denied via the helper (EEXIST)',
    call: 'mknod c 1:3 over a file', caller: 'mknod-eexist', arg: BENCH_DIR, vsFloor: false, expect: 'EEXIST',
  },
  {
    id: 'setxattr', kind: 'emulated', title: 'setxattr trusted.overlay.opaque=y, emulated', call: 'setxattr trusted.overlay.opaque=y',
    caller: 'setxattr', arg: XATTR_DIR, vsFloor: false, expect: '',
  },
  {
    id: 'sched', kind: 'emulated', title: 'sched_setscheduler(0, SCHED_OTHER), emulated', call: 'sched_setscheduler(0, SCHED_OTHER)',
    caller: 'sched', vsFloor: false, expect: '',
  },
  {
    id: 'sysinfo', kind: 'emulated', title: 'sysinfo, emulated from the cgroups', call: 'sysinfo',
    caller: 'sysinfo', vsFloor: false, expect: '',
  },
];

export function caseById(id: string): BenchCase {
  const c = CASES.find((x) => x.id === id);
  if (!c) throw new Error(`no bench case ${id}`);
  return c;
}

/** The interception keys every bench container gets. */
export const KEYS = ['mknod', 'setxattr', 'sched_setscheduler', 'sysinfo', 'bpf', 'bpf.devices']
  .map((k) => `security.syscalls.intercept.${k}=true`);

/** x86_64 syscall numbers the C floors answer with an errno rather than CONTINUE. */
export const FLOOR_ERRNO_RULES = ['321:22']; // bpf → EINVAL, what the verifier answers here
