// systemd's readiness protocol (sd_notify(3)) without libsystemd: one datagram such as
// "READY=1" to the AF_UNIX SOCK_DGRAM address in $NOTIFY_SOCKET ('@' = abstract name).

import { AF_UNIX, MSG_NOSIGNAL, SOCK_CLOEXEC, SOCK_DGRAM, c, errno } from './libc.js';
import { SyscallError } from './errors.js';
import { sockaddrUn } from './unix-socket.js';

/**
 * Sends `state` to systemd. Returns false when there is nobody to tell (not started by
 * systemd with Type=notify); throws SyscallError when the send fails.
 */
export function sdNotify(state: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const target = env.NOTIFY_SOCKET;
  // Newer systemd may also pass vsock: addresses (for VMs); only unix ones are ours.
  if (target === undefined || !(target.startsWith('/') || target.startsWith('@'))) return false;
  const { addr, len } = sockaddrUn(target);
  const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new SyscallError('socket', errno());
  try {
    const msg = Buffer.from(state);
    if (Number(c.sendto(fd, msg, msg.length, MSG_NOSIGNAL, addr, len)) !== msg.length) throw new SyscallError('sendto', errno());
    return true;
  } finally {
    c.close(fd);
  }
}
