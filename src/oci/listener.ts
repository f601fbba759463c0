// One seccomp listener handed over by an OCI runtime (a container's init, or one exec'd
// process). interceptd owns it: readable → RECV each pending notification → open the
// caller → dispatcher → SEND. Answers may complete out of order; nothing here waits,
// so one container's slow request never delays another's.

import { CONTINUE, type Answer } from '../../protocol/answer.js';
import { Errno, SECCOMP_NOTIF_RESP_SIZE, SECCOMP_NOTIF_SIZE } from '../../protocol/constants.js';
import { decodeNotification, encodeResponse, type Notification } from '../../protocol/seccomp.js';
import { errnoName } from '../../native/errors.js';
import { POLLERR, POLLHUP, POLLIN, POLLNVAL, readyNow, watchFd, type FdWatcher } from '../../native/poll.js';
import { notifRecv, notifSend } from '../../native/seccomp.js';
import { closeFd } from '../../native/unix-socket.js';
import type { Logger } from '../core/log.js';
import type { Dispatcher } from '../dispatch.js';
import type { ContainerRef } from '../handlers/types.js';
import { closeTarget, openTarget } from './target.js';

/** Notifications received per wake-up before yielding to the event loop (it wakes us again). */
const BATCH = 64;
const EINPROGRESS = 115;

// The loop is single-threaded and RECV/SEND are synchronous: one buffer each serves every listener.
const recvBuf = Buffer.alloc(SECCOMP_NOTIF_SIZE);
const respBuf = Buffer.alloc(SECCOMP_NOTIF_RESP_SIZE);

export interface NotifyListenerOptions {
  readonly fd: number;
  readonly container: ContainerRef;
  readonly dispatcher: Dispatcher;
  readonly log: Logger;
  /** Called once, after the fd is closed; `hungUp` when the filter's last task exited. */
  readonly onClose: (hungUp: boolean) => void;
}

export class NotifyListener {
  private readonly watcher: FdWatcher;
  private inFlight = 0;
  private closing = false;
  private closed = false;
  private hungUp = false;

  constructor(private readonly opts: NotifyListenerOptions) {
    this.watcher = watchFd(opts.fd, { readable: true, disconnect: true }, (status) => {
      if (status < 0) this.close(`poll error ${status}`);
      else this.drain();
    });
  }

  get container(): ContainerRef {
    return this.opts.container;
  }

  /**
   * RECV blocks when nothing is pending, and libuv also reports a hang-up as readable:
   * ask poll() before every RECV.
   */
  private drain(): void {
    for (let i = 0; i < BATCH && !this.closing; i++) {
      const ready = readyNow(this.opts.fd);
      if (ready & POLLIN) this.receive();
      else if (ready & (POLLHUP | POLLERR | POLLNVAL)) {
        this.hungUp = true;
        this.close('the last task using the filter exited');
      } else return;
    }
  }

  private receive(): void {
    const e = notifRecv(this.opts.fd, recvBuf);
    if (e === Errno.ENOENT) {
      this.opts.log.debug('task interrupted before its notification was received');
      return;
    }
    if (e !== 0) {
      this.opts.log.error({ errno: errnoName(e) }, 'NOTIF_RECV failed; closing the listener');
      this.close(`NOTIF_RECV failed: ${errnoName(e)}`);
      return;
    }
    this.serve(decodeNotification(recvBuf, 0));
  }

  private serve(notif: Notification): void {
    const opened = openTarget(this.opts.fd, notif);
    if (opened.kind === 'gone') return;
    if (opened.kind === 'unreachable') {
      this.opts.log.warn({ pid: notif.pid, reason: opened.reason }, 'caller unreachable; answering continue');
      this.send(notif.id, CONTINUE);
      return;
    }
    const answer = this.opts.dispatcher.answer({ notif, target: opened.target, container: this.opts.container });
    if (!(answer instanceof Promise)) {
      this.send(notif.id, answer);
      closeTarget(opened);
      return;
    }
    this.inFlight++;
    void answer.then((a) => {
      this.send(notif.id, a);
      closeTarget(opened);
      this.inFlight--;
      if (this.closing && this.inFlight === 0) this.finish();
    });
  }

  private send(id: bigint, answer: Answer): void {
    if (this.closed) return;
    encodeResponse(respBuf, 0, id, answer);
    const e = notifSend(this.opts.fd, respBuf);
    if (e === 0) return;
    // ENOENT: a signal interrupted the call (it may be restarted as a new notification).
    if (e === Errno.ENOENT || e === EINPROGRESS) this.opts.log.debug({ errno: errnoName(e) }, 'answer not delivered');
    else this.opts.log.warn({ errno: errnoName(e) }, 'NOTIF_SEND failed');
  }

  /**
   * Stops receiving. The fd stays open until requests in flight are answered (the helper
   * may still be about to receive it), unless `now`.
   */
  close(reason: string, now = false): void {
    if (this.closed) return;
    if (!this.closing) {
      this.closing = true;
      this.watcher.close();
      this.opts.log.info({ reason, pending: this.inFlight }, 'OCI listener closing');
    }
    if (now || this.inFlight === 0) this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    closeFd(this.opts.fd);
    this.opts.onClose(this.hungUp);
  }
}
