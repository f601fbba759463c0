// Restart without a failed call: a new daemon (`serve --takeover`) asks the running one,
// over <state-dir>/takeover.socket, for every socket it serves. The old daemon stops
// reading, lets its in-flight requests finish, then sends the listening sockets and each
// live connection (one SEQPACKET datagram each: a JSON line and the fd by SCM_RIGHTS).
// Requests that arrive meanwhile wait in their sockets and are read by the new daemon.

import fs from 'node:fs';
import path from 'node:path';
import { watchFd, type FdWatcher } from '../native/poll.js';
import { MessageReceiver, closeFd, connectUnix, listenUnix, sendMessage, type PeerCred, type Received } from '../native/unix-socket.js';
import { acceptRootPeers } from './core/accept.js';
import type { Logger } from './core/log.js';
import type { OciState } from '../protocol/oci-state.js';
import { removeStaleSocket } from './core/state-dir.js';

export const TAKEOVER_SOCKET = 'takeover.socket';

/** One handed-over object. `fd` travels beside it by SCM_RIGHTS. */
export type Handed =
  | { readonly kind: 'liblxc-listener' }
  | { readonly kind: 'liblxc-connection'; readonly peer: PeerCred; readonly name: string | undefined }
  | { readonly kind: 'oci-listener' }
  | { readonly kind: 'oci-notify'; readonly state: OciState }
  | { readonly kind: 'done' }
  | { readonly kind: 'ack' };

export interface HandoverSource {
  /** Stops reading and waits until nothing is in flight. */
  quiesce(): Promise<void>;
  /** Every fd to hand over, each with its description; the source no longer uses them. */
  release(): { handed: Handed; fd: number }[];
}

const MAX_MESSAGE = 64 * 1024;

function encode(h: Handed): Buffer {
  return Buffer.from(JSON.stringify(h));
}

function decode(buf: Buffer, length: number): Handed | undefined {
  try {
    const v = JSON.parse(buf.toString('utf8', 0, length)) as Handed;
    return typeof v === 'object' && v !== null && typeof v.kind === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The next datagram, waiting for readiness in the event loop; rejects after `timeoutMs`. */
function receive(fd: number, rx: MessageReceiver, timeoutMs: number): Promise<Received> {
  const now = rx.recv(fd);
  if (now.kind !== 'again') return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      w.close();
      reject(new Error('takeover peer went silent'));
    }, timeoutMs);
    const w: FdWatcher = watchFd(fd, { readable: true, disconnect: true }, () => {
      let r: Received;
      try {
        r = rx.recv(fd);
      } catch (err) {
        clearTimeout(timer);
        w.close();
        reject(err as Error);
        return;
      }
      if (r.kind === 'again') return;
      clearTimeout(timer);
      w.close();
      resolve(r);
    });
  });
}

/** The running daemon's side: serve one takeover, then call `onDone` (which exits). */
export class TakeoverServer {
  private fd = -1;
  private watcher: FdWatcher | undefined;
  private busy = false;

  constructor(
    private readonly stateDir: string,
    private readonly source: HandoverSource,
    private readonly log: Logger,
    private readonly onDone: () => void,
  ) {}

  listen(): void {
    const socket = path.join(this.stateDir, TAKEOVER_SOCKET);
    removeStaleSocket(socket);
    this.fd = listenUnix(socket);
    fs.chmodSync(socket, 0o600);
    this.watcher = watchFd(this.fd, { readable: true }, () => this.accept());
  }

  private accept(): void {
    acceptRootPeers(this.fd, this.log, (conn) => {
      if (this.busy) {
        closeFd(conn);
        return;
      }
      this.busy = true;
      void this.handOver(conn).catch((err: unknown) => {
        // A failed handover leaves every fd here: this daemon keeps serving.
        this.log.error({ err }, 'takeover failed; this daemon keeps serving');
        this.busy = false;
        closeFd(conn);
      });
    });
  }

  private async handOver(conn: number): Promise<void> {
    const started = Date.now();
    this.log.info({}, 'takeover requested: finishing in-flight requests');
    await this.source.quiesce();
    const items = this.source.release();
    for (const { handed, fd } of items) {
      if (!sendMessage(conn, encode(handed), [fd])) throw new Error('takeover socket full');
    }
    sendMessage(conn, encode({ kind: 'done' }));
    // Our copies go only once the new daemon holds its own.
    const ack = await receive(conn, new MessageReceiver(MAX_MESSAGE, 1), 10_000).catch(() => undefined);
    for (const { fd } of items) closeFd(fd);
    closeFd(conn);
    this.log.info({ handed: items.length, ms: Date.now() - started, acked: ack?.kind === 'message' }, 'handed over; exiting');
    this.close();
    this.onDone();
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    closeFd(this.fd);
    this.fd = -1;
  }
}

/** The new daemon's side: everything the running daemon serves, received and acknowledged. */
export async function takeOver(stateDir: string, timeoutMs = 30_000): Promise<{ items: { handed: Handed; fd: number }[]; ack: () => void }> {
  const conn = connectUnix(path.join(stateDir, TAKEOVER_SOCKET));
  const rx = new MessageReceiver(MAX_MESSAGE, 4);
  const items: { handed: Handed; fd: number }[] = [];
  try {
    for (;;) {
      const got = await receive(conn, rx, timeoutMs);
      if (got.kind !== 'message') throw new Error('the running daemon closed the takeover connection');
      const handed = decode(rx.data, got.length);
      if (handed === undefined || got.truncated) {
        got.fds.forEach(closeFd);
        throw new Error('malformed takeover message');
      }
      if (handed.kind === 'done') break;
      if (got.fds.length !== 1) {
        got.fds.forEach(closeFd);
        throw new Error(`takeover message ${handed.kind} without its fd`);
      }
      items.push({ handed, fd: got.fds[0]! });
    }
  } catch (err) {
    for (const { fd } of items) closeFd(fd);
    closeFd(conn);
    throw err;
  }
  return {
    items,
    ack: () => {
      sendMessage(conn, encode({ kind: 'ack' }));
      closeFd(conn);
    },
  };
}
