// Kernel and liblxc constants used on the wire. Values from linux/seccomp.h,
// linux/audit.h and liblxc's seccomp proxy header (see shared/spec/kernel-abi.md).

export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const AUDIT_ARCH_I386 = 0x40000003;
export const AUDIT_ARCH_AARCH64 = 0xc00000b7;
export const X32_SYSCALL_BIT = 0x40000000;

/** Kernel struct sizes this build understands (SECCOMP_GET_NOTIF_SIZES on x86_64). */
export const SECCOMP_NOTIF_SIZE = 80;
export const SECCOMP_NOTIF_RESP_SIZE = 24;
export const SECCOMP_DATA_SIZE = 64;

export const SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1;
export const SECCOMP_ADDFD_FLAG_SETFD = 1;
export const SECCOMP_ADDFD_FLAG_SEND = 2;

export const SECCOMP_IOCTL_NOTIF_RECV = 0xc0502100;
export const SECCOMP_IOCTL_NOTIF_SEND = 0xc0182101;
export const SECCOMP_IOCTL_NOTIF_ID_VALID = 0x40082102;
export const SECCOMP_IOCTL_NOTIF_ADDFD = 0x40182103;

/** liblxc's `struct seccomp_notify_proxy_msg` header. */
export const PROXY_HEADER_SIZE = 32;

export const AT_FDCWD = -100;
export const PATH_MAX = 4096;

export const S_IFMT = 0o170000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

/** errno values (x86_64 / asm-generic). */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENOTDIR: 20,
  EINVAL: 22,
  ENOSPC: 28,
  EROFS: 30,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ELOOP: 40,
} as const;
