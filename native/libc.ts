// koffi bindings to the few libc calls Node lacks. Synchronous only: readiness comes
// from the event loop (koffi.node.poll), so no call here blocks.

import koffi from 'koffi';

const libc = koffi.load('libc.so.6');

export const c = {
  socket: libc.func('int socket(int domain, int type, int protocol)'),
  socketpair: libc.func('int socketpair(int domain, int type, int protocol, _Out_ int *sv)'),
  bind: libc.func('int bind(int fd, void *addr, uint32_t len)'),
  listen: libc.func('int listen(int fd, int backlog)'),
  accept4: libc.func('int accept4(int fd, void *addr, void *len, int flags)'),
  connect: libc.func('int connect(int fd, void *addr, uint32_t len)'),
  getsockopt: libc.func('int getsockopt(int fd, int level, int name, void *val, _Inout_ uint32_t *len)'),
  recvmsg: libc.func('intptr_t recvmsg(int fd, void *msg, int flags)'),
  sendmsg: libc.func('intptr_t sendmsg(int fd, void *msg, int flags)'),
  send: libc.func('intptr_t send(int fd, void *buf, size_t len, int flags)'),
  sendto: libc.func('intptr_t sendto(int fd, void *buf, size_t len, int flags, void *addr, uint32_t alen)'),
  close: libc.func('int close(int fd)'),
  openat: libc.func('int openat(int dirfd, const char *path, int flags)'),
  read: libc.func('intptr_t read(int fd, void *buf, size_t n)'),
  readlinkat: libc.func('intptr_t readlinkat(int dirfd, const char *path, void *buf, size_t n)'),
  ioctl: libc.func('int ioctl(int fd, unsigned long req, void *arg)'),
  /** The same, for the ioctls that take their argument by value. */
  ioctlValue: libc.func('int ioctl(int fd, unsigned long req, unsigned long arg)'),
  processVmReadv: libc.func(
    'intptr_t process_vm_readv(int pid, void *local, unsigned long liovcnt, void *remote, unsigned long riovcnt, unsigned long flags)',
  ),
  processVmWritev: libc.func(
    'intptr_t process_vm_writev(int pid, void *local, unsigned long liovcnt, void *remote, unsigned long riovcnt, unsigned long flags)',
  ),
  pidfdOpen: libc.func('int pidfd_open(int pid, unsigned int flags)'),
  pidfdGetfd: libc.func('int pidfd_getfd(int pidfd, int targetfd, unsigned int flags)'),
  pidfdSendSignal: libc.func('int pidfd_send_signal(int pidfd, int sig, void *info, unsigned int flags)'),
  fcntl: libc.func('int fcntl(int fd, int cmd, int arg)'),
  poll: libc.func('int poll(void *fds, unsigned long nfds, int timeout)'),
  seccomp: libc.func('int syscall(long nr, unsigned int op, unsigned int flags, void *args)'),
  /** A raw system call with integer arguments only (probes). */
  syscall5: libc.func('long syscall(long nr, long a1, long a2, long a3, long a4, long a5)'),
  sysinfo: libc.func('int sysinfo(void *info)'),
  sysconf: libc.func('long sysconf(int name)'),
};

export function errno(): number {
  return koffi.errno();
}

/** The address of a Buffer's memory, for structs that hold pointers (iovec, msghdr). */
export function addressOf(buf: Buffer): bigint {
  return koffi.address(buf) as bigint;
}

export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SOCK_SEQPACKET = 5;
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_PEERCRED = 17;
export const SO_TYPE = 3;
export const SO_DOMAIN = 39;
export const SO_ACCEPTCONN = 30;
export const SCM_RIGHTS = 1;
export const MSG_TRUNC = 0x20;
export const MSG_CTRUNC = 0x08;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_CMSG_CLOEXEC = 0x40000000;
export const EAGAIN = 11;
export const EINTR = 4;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const FD_CLOEXEC = 1;
export const O_NONBLOCK = 0o4000;

export const NR_SECCOMP = 317;
export const SECCOMP_GET_NOTIF_SIZES = 3;
export const NR_MOUNT_SETATTR = 442;
