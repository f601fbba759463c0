// The OCI seccomp agent socket (`linux.seccomp.listenerPath`): SOCK_STREAM, root only.
// A runtime connects once per new listener (container start, each exec) and sends one
// ContainerProcessState with the listener fd. Anything else is refused: its fds are
// closed, and other containers are not affected.

import fs from 'node:fs';
import path from 'node:path';
import { EMPTY_POLICY } from '../../compat/keys.js';
import { resolveOciPolicy } from '../../compat/oci-policy.js';
import type { OverridePolicySource } from '../../compat/policy-source.js';
import type { ProtocolErrorCode } from '../../protocol/errors.js';
import { MAX_STATE, MAX_STATE_FDS, decodeOciState, type OciState } from '../../protocol/oci-state.js';
import { watchFd, type FdWatcher } from '../../native/poll.js';
import { isSeccompListener } from '../../native/seccomp.js';
import { SOCK_STREAM } from '../../native/libc.js';
import { StreamReceiver, acceptUnix, closeFd, listenUnix, peerCred, type PeerCred } from '../../native/unix-socket.js';
import { removeStaleSocket } from '../core/state-dir.js';
import type { Logger } from '../core/log.js';
import type { KeptSockets } from '../keeper.js';
import { acceptRootPeers } from '../core/accept.js';
import type { Dispatcher } from '../dispatch.js';
import { InitRecords } from './init-record.js';
import { NotifyListener } from './listener.js';

export interface OciServerOptions {
  readonly socketPath: string;
  readonly dispatcher: Dispatcher;
  readonly policies: OverridePolicySource;
  readonly log: Logger;
  /** A runtime must send its whole state within this time (default 2 s). */
  readonly readTimeoutMs?: number;
}

export class OciServer {
  private fd = -1;
  private watcher: FdWatcher | undefined;
  private readonly connections = new Set<StateConnection>();
  private readonly listeners = new Set<NotifyListener>();
  readonly receiver = new StreamReceiver(MAX_STATE_FDS);
  private inits: InitRecords | undefined;

  constructor(readonly opts: OciServerOptions) {}

  /** The containers whose notify fds this agent owns, for `interceptd status`. */
  describe(): { name: string; pid: number }[] {
    return [...this.listeners].map((l) => ({ name: l.container.name, pid: l.container.initPid }));
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Where copies of the sockets are kept for crash recovery (none in tests). */
  store: KeptSockets | undefined;
  private readonly states = new Map<NotifyListener, { state: OciState; keeperId: number }>();

  listen(): void {
    removeStaleSocket(this.opts.socketPath);
    const fd = listenUnix(this.opts.socketPath, SOCK_STREAM);
    fs.chmodSync(this.opts.socketPath, 0o600);
    this.adoptListener(fd);
    this.opts.log.info({ socket: this.opts.socketPath }, 'OCI agent socket listening');
  }

  /** Serves an already listening socket (from a previous daemon). */
  adoptListener(fd: number): void {
    this.inits = new InitRecords(path.join(path.dirname(this.opts.socketPath), 'oci-inits'));
    this.fd = fd;
    this.store?.ociListener(fd);
    this.watcher = watchFd(this.fd, { readable: true }, () => this.acceptAll());
  }

  /** For a handover: stop accepting and receiving; resolves when nothing is in flight. */
  async quiesce(): Promise<void> {
    this.watcher?.stop();
    await Promise.all([...this.listeners].map((l) => l.pause()));
  }

  /** Every fd, for the next daemon: the listening socket and each notify fd with its state. */
  release(): { listener: number; notify: { state: OciState; fd: number }[] } {
    this.watcher?.close();
    this.watcher = undefined;
    const listener = this.fd;
    this.fd = -1;
    const notify = [...this.listeners].map((l) => ({ state: this.states.get(l)!.state, fd: l.detach() }));
    this.listeners.clear();
    return { listener, notify };
  }

  private acceptAll(): void {
    acceptRootPeers(this.fd, this.opts.log, (fd, peer) => this.connections.add(new StateConnection(fd, peer, this)));
  }

  forget(conn: StateConnection): void {
    this.connections.delete(conn);
  }

  /** Takes ownership of a runtime's listener fd. */
  adopt(state: OciState, listenerFd: number, log: Logger): void {
    const id = state.state.id;
    // At container start the listener's owner is the init; for an exec it is not.
    const starting = state.state.status === 'creating';
    const initPid = state.state.pid ?? (starting && state.pid > 0 ? state.pid : this.knownInit(id));
    const isInit = starting && initPid > 0;
    if (isInit) this.inits?.remember(id, initPid);
    const resolved = resolveOciPolicy(state.metadata, state.state.annotations);
    let release = (): void => {};
    let source = 'policy file';
    if (resolved.kind === 'policy') {
      release = this.opts.policies.hold(id, resolved.policy);
      source = resolved.source;
    } else if (resolved.kind === 'invalid') {
      log.warn({ container: id, errors: resolved.errors }, 'invalid interception keys in listenerMetadata/annotations; this container gets no interception');
      release = this.opts.policies.hold(id, EMPTY_POLICY);
      source = 'none (invalid keys)';
    }
    const listenerLog = this.opts.log.child({ container: id, listenerPid: state.pid });
    const keeperId = this.store?.ociNotify(listenerFd, state) ?? -1;
    const listener: NotifyListener = new NotifyListener({
      fd: listenerFd,
      container: { name: id, initPid },
      dispatcher: this.opts.dispatcher,
      log: listenerLog,
      kept: this.store !== undefined ? { table: this.store.table, id: keeperId } : undefined,
      onClose: (hungUp) => {
        release();
        if (keeperId >= 0) this.store?.dropped(keeperId);
        this.states.delete(listener);
        this.listeners.delete(listener);
        if (hungUp && isInit) this.inits?.forget(id, initPid);
      },
    });
    this.listeners.add(listener);
    this.states.set(listener, { state, keeperId });
    listenerLog.info({ status: state.state.status, initPid, bundle: state.state.bundle, policy: source }, 'OCI listener attached');
  }

  /**
   * crun 1.8 sends pid 0 for an exec'd process: use the init pid a live listener of the
   * same container was given (init's own listener hangs up once init's pid namespace is
   * gone, so while one is open that pid is still the container's init), else the record
   * kept from the container's start, from before a restart of interceptd.
   */
  private knownInit(id: string): number {
    for (const l of this.listeners) if (l.container.name === id && l.container.initPid > 0) return l.container.initPid;
    return this.inits?.recall(id) ?? 0;
  }

  /** `unlink: false` when a new daemon already listens at the same path (a takeover). */
  close(opts: { unlink?: boolean } = {}): void {
    this.watcher?.close();
    this.watcher = undefined;
    closeFd(this.fd);
    this.fd = -1;
    for (const conn of [...this.connections]) conn.stop();
    for (const l of [...this.listeners]) l.close('daemon stopping', true);
    if (opts.unlink === false) return;
    try {
      fs.unlinkSync(this.opts.socketPath);
    } catch {
      // already gone
    }
  }
}

/**
 * One runtime connection. The state is taken as soon as the bytes so far form one JSON
 * document: runc 1.1 keeps its end open until it exits (for `runc exec`, until the
 * process ends), so waiting for EOF would park the container's first calls. Data that
 * arrives after the state is refused; the connection is then dropped after a while.
 */
class StateConnection {
  private readonly watcher: FdWatcher;
  private timer: NodeJS.Timeout;
  /** One byte more than allowed, so a full buffer means "too big". */
  private readonly data = Buffer.allocUnsafe(MAX_STATE + 1);
  private length = 0;
  private reads = 0;
  private fds: number[] = [];
  private adopted = false;
  private done = false;
  private readonly log: Logger;

  constructor(
    private readonly fd: number,
    peer: PeerCred,
    private readonly server: OciServer,
  ) {
    this.log = server.opts.log.child({ runtime: peer.pid });
    this.watcher = watchFd(fd, { readable: true, disconnect: true }, (status) => {
      if (status < 0) this.refuse('ICD_OCI_JSON', `poll error ${status}`);
      else this.readAll();
    });
    this.timer = setTimeout(() => this.complete('timeout'), this.timeoutMs);
  }

  private get timeoutMs(): number {
    return this.server.opts.readTimeoutMs ?? 2000;
  }

  private readAll(): void {
    while (!this.done) {
      let got;
      try {
        got = this.server.receiver.recv(this.fd, this.adopted ? this.data : this.data.subarray(this.length));
      } catch (err) {
        this.refuse('ICD_OCI_JSON', `receive failed: ${(err as Error).message}`);
        return;
      }
      if (got.kind === 'again') return;
      if (got.kind === 'eof') {
        if (this.adopted) this.end();
        else this.complete('eof');
        return;
      }
      this.fds.push(...got.fds);
      if (this.adopted) {
        if (got.fds.length === 0 && this.data.subarray(0, got.length).toString('latin1').trim() === '') continue;
        return this.refuse('ICD_OCI_JSON', 'data after the state (a second message on one connection?)');
      }
      if (got.fds.length > 0 && this.reads > 0) return this.refuse('ICD_OCI_FDS', 'fds after the first message');
      this.reads++;
      if (got.fdsTruncated) return this.refuse('ICD_OCI_FDS', `more than ${MAX_STATE_FDS} fds`);
      this.length += got.length;
      if (this.length > MAX_STATE) return this.refuse('ICD_OCI_SIZE', `state longer than ${MAX_STATE} bytes`);
      this.complete('more');
    }
  }

  /** Decodes what has arrived. Until EOF or the timeout, unparsable JSON may just be incomplete. */
  private complete(why: 'more' | 'eof' | 'timeout'): void {
    if (this.done) return;
    if (this.adopted) return this.end(); // the runtime kept its end open (runc 1.1)
    const decoded = decodeOciState(this.data.subarray(0, this.length), this.fds.length);
    if (!decoded.ok) {
      if (decoded.error.code !== 'ICD_OCI_JSON') return this.refuse(decoded.error.code, decoded.error.message);
      if (why === 'more') return;
      const reason = why === 'eof' ? decoded.error.message : `no complete state within ${this.timeoutMs} ms: ${decoded.error.message}`;
      return this.refuse(why === 'eof' ? 'ICD_OCI_JSON' : 'ICD_OCI_TIMEOUT', reason);
    }
    const state = decoded.value;
    const listenerFd = this.fds[state.seccompFdIndex]!;
    // Only seccompFd is understood; any other named fd is closed.
    this.fds.filter((f) => f !== listenerFd).forEach(closeFd);
    this.fds = [listenerFd];
    if (!isSeccompListener(listenerFd)) return this.refuse('ICD_OCI_LISTENER', 'seccompFd is not a seccomp listener');
    this.fds = [];
    this.adopted = true;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.complete('timeout'), this.timeoutMs);
    this.server.adopt(state, listenerFd, this.log);
  }

  /** The daemon is stopping. */
  stop(): void {
    if (this.adopted) this.end();
    else this.refuse('ICD_OCI_TIMEOUT', 'daemon stopping');
  }

  private refuse(code: ProtocolErrorCode, reason: string): void {
    if (this.done) return;
    this.log.warn({ code, reason, bytes: this.length, fds: this.fds.length }, this.adopted ? 'data after the OCI state refused' : 'OCI state refused');
    this.fds.forEach(closeFd);
    this.fds = [];
    this.end();
  }

  private end(): void {
    this.done = true;
    clearTimeout(this.timer);
    this.watcher.close();
    closeFd(this.fd);
    this.server.forget(this);
  }
}
