// Accepting on a root-only socket: every pending connection, each checked by SO_PEERCRED.

import { acceptUnix, closeFd, peerCred, type PeerCred } from '../../native/unix-socket.js';
import type { Logger } from './log.js';

/** Accepts until none is pending; hands each uid-0 peer to `onPeer`, refuses the others. */
export function acceptRootPeers(listener: number, log: Logger, onPeer: (fd: number, peer: PeerCred) => void): void {
  for (;;) {
    let fd: number;
    try {
      fd = acceptUnix(listener);
    } catch (err) {
      log.error({ err }, 'accept failed');
      return;
    }
    if (fd < 0) return;
    let peer: PeerCred;
    try {
      peer = peerCred(fd);
    } catch (err) {
      log.warn({ err }, 'no peer credentials; connection refused');
      closeFd(fd);
      continue;
    }
    if (peer.uid !== 0) {
      log.warn({ peer }, 'peer is not root; connection refused');
      closeFd(fd);
      continue;
    }
    onPeer(fd, peer);
  }
}
