// liblxc's seccomp proxy endpoint (lxc.seccomp.notify.proxy): a SOCK_SEQPACKET socket
// in the root-only state directory. Each container's monitor holds one connection and
// sends one request at a time; each gets exactly one 136-byte reply.

import fs from 'node:fs';
import { encodeProxyReply, decodeProxyRequest, MAX_REQUEST, type NotifSizes } from '../../protocol/proxy-message.js';
import type { Answer } from '../../protocol/answer.js';
import { closeFd, acceptUnix, listenUnix, MessageReceiver, peerCred, sendPlain, type PeerCred } from '../../native/unix-socket.js';
import { watchFd, type FdWatcher } from '../../native/poll.js';
import { TargetMemory } from '../../native/memory.js';
import { removeStaleSocket } from '../core/state-dir.js';
import { acceptRootPeers } from '../core/accept.js';
import type { Logger } from '../core/log.js';
import type { Dispatcher } from '../dispatch.js';
import type { ContainerRef } from '../handlers/types.js';
import type { KeptSockets } from '../keeper.js';
import { identify, monitorIdentity, type Identity } from './identify.js';

const EMPTY = Buffer.alloc(0);
const MAX_FDS = 8;

export interface LiblxcServerOptions {
  readonly socketPath: string;
  readonly dispatcher: Dispatcher;
  readonly kernelSizes: NotifSizes;
  readonly log: Logger;
}

export class LiblxcServer {
  private fd = -1;
  private watcher: FdWatcher | undefined;
  private readonly connections = new Set<Connection>();
  /** Where copies of the sockets are kept for crash recovery (none in tests). */
  store: KeptSockets | undefined;
  /** One receive buffer for all connections: decoding copies what it keeps. */
  readonly receiver = new MessageReceiver(MAX_REQUEST, MAX_FDS);

  constructor(readonly opts: LiblxcServerOptions) {}

  get connectionCount(): number {
    return this.connections.size;
  }

  /** The connected containers, for `interceptd status`. */
  describe(): { name: string | undefined; monitorPid: number }[] {
    return [...this.connections].map((c) => c.describe());
  }

  listen(): void {
    removeStaleSocket(this.opts.socketPath);
    this.adoptListener(listenUnix(this.opts.socketPath));
    fs.chmodSync(this.opts.socketPath, 0o600);
    this.opts.log.info({ socket: this.opts.socketPath }, 'liblxc proxy socket listening');
  }

  /** systemd owns the socket file (socket activation): close() leaves it in place. */
  private inherited = false;

  /** Serves an already listening socket (handed over by a previous daemon, or by systemd). */
  adoptListener(fd: number, opts: { inherited?: boolean } = {}): void {
    this.fd = fd;
    this.inherited = opts.inherited ?? false;
    this.store?.listener(fd);
    this.watcher = watchFd(this.fd, { readable: true }, () => this.acceptAll());
  }

  /** Serves a monitor connection handed over by a previous daemon, with what it knew of it. */
  adoptConnection(fd: number, peer: PeerCred, name: string | undefined): void {
    const conn = new Connection(fd, peer, this, name);
    this.connections.add(conn);
    conn.resume();
  }

  /**
   * For a handover: stops accepting and reading, and resolves once no request is in
   * flight. Whatever a monitor sends meanwhile waits in its socket for the next daemon.
   */
  async quiesce(): Promise<void> {
    this.watcher?.stop();
    await Promise.all([...this.connections].map((c) => c.pause()));
  }

  /** Gives up every fd without closing the sockets' peers out: the caller sends them on, then closes. */
  release(): { listener: number; connections: { fd: number; peer: PeerCred; name: string | undefined }[] } {
    this.watcher?.close();
    this.watcher = undefined;
    const listener = this.fd;
    this.fd = -1;
    const connections = [...this.connections].map((c) => c.detach());
    this.connections.clear();
    return { listener, connections };
  }

  private acceptAll(): void {
    acceptRootPeers(this.fd, this.opts.log, (fd, peer) => {
      this.connections.add(new Connection(fd, peer, this));
      this.opts.log.info({ peer }, 'liblxc monitor connected');
    });
  }

  forget(conn: Connection): void {
    this.connections.delete(conn);
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    closeFd(this.fd);
    this.fd = -1;
    for (const conn of [...this.connections]) conn.close('daemon stopping');
    if (this.inherited) return;
    try {
      fs.unlinkSync(this.opts.socketPath);
    } catch {
      // already gone
    }
  }
}

class Connection {
  private readonly watcher: FdWatcher;
  private inFlight = false;
  private paused = false;
  private closed = false;
  /** Set for a handover: read nothing more, tell `drained` when the last reply is out. */
  private holding = false;
  private drained: (() => void) | undefined;
  private readonly log: Logger;
  private readonly kept: { id: number; slot: number } | undefined;
  /** From the monitor's title: which manager's container this is (LXD's policy source needs it). */
  private lxcPath: string | undefined;
  private ref: ContainerRef | undefined;
  /** The monitor's title (`[lxc monitor] <lxcpath> <name>`), read when it connected. */
  private readonly title: Identity | undefined;

  constructor(
    private readonly fd: number,
    private readonly peer: PeerCred,
    private readonly server: LiblxcServer,
    private name: string | undefined = undefined,
  ) {
    this.kept = server.store?.added(fd, peer, name);
    this.log = server.opts.log.child({ monitor: peer.pid });
    this.title = monitorIdentity(peer.pid);
    // A new monitor: its container is starting, and its first calls may come at once.
    if (name === undefined && this.title !== undefined) server.opts.dispatcher.prepare(this.title.name, this.title.lxcPath);
    this.watcher = watchFd(fd, { readable: true, disconnect: true }, (status, ev) => {
      if (status < 0) this.close(`poll error ${status}`);
      else if (ev.readable) this.readOne();
      else if (ev.disconnect) this.close('monitor disconnected');
    });
  }

  describe(): { name: string | undefined; monitorPid: number } {
    return { name: this.name, monitorPid: this.peer.pid };
  }

  pause(): Promise<void> {
    this.holding = true;
    this.watcher.stop();
    if (!this.inFlight || this.closed) return Promise.resolve();
    return new Promise((resolve) => (this.drained = resolve));
  }

  resume(): void {
    this.holding = false;
    this.watcher.start();
    this.readOne();
  }

  detach(): { fd: number; peer: PeerCred; name: string | undefined } {
    this.closed = true;
    this.watcher.close();
    return { fd: this.fd, peer: this.peer, name: this.name };
  }

  /**
   * One message per wake-up. liblxc sends the next request only after our reply, and the
   * poll handle is level-triggered (it wakes us again for anything left), so reading on
   * would cost one more recvmsg per request just to learn that nothing is pending.
   */
  private readOne(): void {
    if (this.closed || this.holding) return;
    if (this.inFlight) {
      // Only a misbehaving peer sends now; stop polling so a level-triggered wake-up cannot spin.
      // (Not stopped for every async request: two epoll_ctl calls each, for nothing.)
      this.watcher.stop();
      this.paused = true;
      return;
    }
    let got;
    try {
      got = this.server.receiver.recv(this.fd);
    } catch (err) {
      this.close(`receive failed: ${(err as Error).message}`);
      return;
    }
    if (got.kind === 'again') return;
    if (got.kind === 'eof') {
      this.close('monitor disconnected');
      return;
    }
    this.onMessage(got.length, got.truncated, got.fds);
  }

  private onMessage(length: number, truncated: boolean, fds: number[]): void {
    const decoded = decodeProxyRequest(this.server.receiver.data, length, this.server.opts.kernelSizes, truncated);
    if (!decoded.ok || fds.length === 0) {
      // An empty datagram makes liblxc answer ENOSYS at once instead of after its 30 s timeout.
      this.log.warn(
        decoded.ok ? { code: 'ICD_PROTO_FDS', length } : { code: decoded.error.code, length, err: decoded.error.message },
        'malformed request; answered with an empty reply',
      );
      fds.forEach(closeFd);
      this.send(EMPTY);
      return;
    }
    const req = decoded.value;
    const [procFd = -1, memFd = -1, listenerFd = -1, ...extra] = fds;
    extra.forEach(closeFd);
    if (this.name === undefined) {
      const id = identify(req.cookie, this.title);
      this.name = id?.name;
      this.lxcPath = id?.lxcPath;
      if (this.name === undefined) this.log.warn({ cookie: req.cookie }, 'cannot identify the container; every call continues');
      else if (this.kept !== undefined) this.server.store?.renamed(this.kept, this.fd, this.peer, this.name);
    } else if (this.lxcPath === undefined && req.cookie === '') {
      // Adopted after a restart with its name only: the title gives the lxcpath back.
      this.lxcPath = this.title?.lxcPath ?? '';
    }
    const slot = this.kept?.slot ?? -1;
    this.server.store?.table.begin(slot, req.echo);
    const answer = this.server.opts.dispatcher.answer({
      notif: req.notif,
      target: { pid: req.notif.pid, procFd, listenerFd, memory: new TargetMemory(req.notif.pid, memFd) },
      container: this.containerRef(req.initPid),
    });
    const finish = (a: Answer): void => {
      this.server.store?.table.end(slot);
      this.send(encodeProxyReply(req, a));
      closeFd(procFd);
      closeFd(memFd);
      closeFd(listenerFd);
    };
    if (!(answer instanceof Promise)) return finish(answer);
    this.inFlight = true;
    void answer.then(finish).finally(() => {
      this.inFlight = false;
      if (this.holding) {
        this.drained?.();
        return;
      }
      // A message that came meanwhile wakes the restarted poll handle.
      if (this.paused && !this.closed) {
        this.paused = false;
        this.watcher.start();
      }
    });
  }

  /** One object per container while it stays the same: handlers cache facts about it (its init's namespaces). */
  private containerRef(initPid: number): ContainerRef {
    const name = this.name ?? '';
    const r = this.ref;
    if (r === undefined || r.name !== name || r.initPid !== initPid || r.lxcPath !== this.lxcPath) {
      this.ref = { name, initPid, lxcPath: this.lxcPath };
    }
    return this.ref!;
  }

  private send(bytes: Buffer): void {
    if (this.closed) return;
    try {
      // The monitor is blocked in recvmsg waiting for this: a full buffer means a broken peer.
      if (!sendPlain(this.fd, bytes)) this.close('reply would block');
    } catch (err) {
      this.close(`reply failed: ${(err as Error).message}`);
    }
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.kept !== undefined) this.server.store?.removed(this.kept);
    this.watcher.close();
    closeFd(this.fd);
    this.server.forget(this);
    this.log.info({ reason, container: this.name }, 'liblxc connection closed');
  }
}
