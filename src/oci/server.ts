// The OCI seccomp agent socket (`linux.seccomp.listenerPath`): SOCK_STREAM, root only.
// A runtime connects once per new listener (container start, each exec), sends one
// ContainerProcessState with the listener fd, and closes. Anything else is refused:
// its fds are closed, and other containers are not affected.

import fs from 'node:fs';
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
import type { Dispatcher } from '../dispatch.js';
import { NotifyListener } from './listener.js';

export interface OciServerOptions {
  readonly socketPath: string;
  readonly dispatcher: Dispatcher;
  readonly policies: OverridePolicySource;
  readonly log: Logger;
  /** A runtime must send its state and close within this time. */
  readonly readTimeoutMs?: number;
}

export class OciServer {
  private fd = -1;
  private watcher: FdWatcher | undefined;
  private readonly connections = new Set<StateConnection>();
  private readonly listeners = new Set<NotifyListener>();
  readonly receiver = new StreamReceiver(MAX_STATE_FDS);

  constructor(readonly opts: OciServerOptions) {}

  get listenerCount(): number {
    return this.listeners.size;
  }

  listen(): void {
    removeStaleSocket(this.opts.socketPath);
    this.fd = listenUnix(this.opts.socketPath, SOCK_STREAM);
    fs.chmodSync(this.opts.socketPath, 0o600);
    this.watcher = watchFd(this.fd, { readable: true }, () => this.acceptAll());
    this.opts.log.info({ socket: this.opts.socketPath }, 'OCI agent socket listening');
  }

  private acceptAll(): void {
    for (;;) {
      let fd: number;
      try {
        fd = acceptUnix(this.fd);
      } catch (err) {
        this.opts.log.error({ err }, 'accept failed');
        return;
      }
      if (fd < 0) return;
      let peer: PeerCred;
      try {
        peer = peerCred(fd);
      } catch (err) {
        this.opts.log.warn({ err }, 'no peer credentials; connection refused');
        closeFd(fd);
        continue;
      }
      if (peer.uid !== 0) {
        this.opts.log.warn({ peer }, 'peer is not root; connection refused');
        closeFd(fd);
        continue;
      }
      this.connections.add(new StateConnection(fd, peer, this));
    }
  }

  forget(conn: StateConnection): void {
    this.connections.delete(conn);
  }

  /** Takes ownership of a runtime's listener fd. */
  adopt(state: OciState, listenerFd: number, log: Logger): void {
    const id = state.state.id;
    const initPid = state.state.pid ?? state.pid;
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
    const listener: NotifyListener = new NotifyListener({
      fd: listenerFd,
      container: { name: id, initPid },
      dispatcher: this.opts.dispatcher,
      log: listenerLog,
      onClose: () => {
        release();
        this.listeners.delete(listener);
      },
    });
    this.listeners.add(listener);
    listenerLog.info({ status: state.state.status, initPid, bundle: state.state.bundle, policy: source }, 'OCI listener attached');
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    closeFd(this.fd);
    this.fd = -1;
    for (const conn of [...this.connections]) conn.refuse('ICD_OCI_TIMEOUT', 'daemon stopping');
    for (const l of [...this.listeners]) l.close('daemon stopping', true);
    try {
      fs.unlinkSync(this.opts.socketPath);
    } catch {
      // already gone
    }
  }
}

/** One runtime connection: read everything until EOF, then decode once. */
class StateConnection {
  private readonly watcher: FdWatcher;
  private readonly timer: NodeJS.Timeout;
  /** One byte more than allowed, so a full buffer means "too big". */
  private readonly data = Buffer.allocUnsafe(MAX_STATE + 1);
  private length = 0;
  private reads = 0;
  private fds: number[] = [];
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
    const timeoutMs = server.opts.readTimeoutMs ?? 2000;
    this.timer = setTimeout(() => this.refuse('ICD_OCI_TIMEOUT', `no end of message within ${timeoutMs} ms`), timeoutMs);
  }

  private readAll(): void {
    while (!this.done) {
      let got;
      try {
        got = this.server.receiver.recv(this.fd, this.data.subarray(this.length));
      } catch (err) {
        this.refuse('ICD_OCI_JSON', `receive failed: ${(err as Error).message}`);
        return;
      }
      if (got.kind === 'again') return;
      if (got.kind === 'eof') {
        this.finish();
        return;
      }
      const first = this.reads++ === 0;
      this.fds.push(...got.fds);
      if (got.fds.length > 0 && !first) return this.refuse('ICD_OCI_FDS', 'fds after the first message (a second state on one connection?)');
      if (got.fdsTruncated) return this.refuse('ICD_OCI_FDS', `more than ${MAX_STATE_FDS} fds`);
      this.length += got.length;
      if (this.length > MAX_STATE) return this.refuse('ICD_OCI_SIZE', `state longer than ${MAX_STATE} bytes`);
    }
  }

  private finish(): void {
    const decoded = decodeOciState(this.data.subarray(0, this.length), this.fds.length);
    if (!decoded.ok) return this.refuse(decoded.error.code, decoded.error.message);
    const state = decoded.value;
    const listenerFd = this.fds[state.seccompFdIndex]!;
    // Only seccompFd is understood; any other named fd is closed.
    const others = this.fds.filter((f) => f !== listenerFd);
    this.fds = [listenerFd];
    others.forEach(closeFd);
    if (!isSeccompListener(listenerFd)) return this.refuse('ICD_OCI_LISTENER', 'seccompFd is not a seccomp listener');
    this.fds = [];
    this.end();
    this.server.adopt(state, listenerFd, this.log);
  }

  refuse(code: ProtocolErrorCode, reason: string): void {
    if (this.done) return;
    this.log.warn({ code, reason, bytes: this.length, fds: this.fds.length }, 'OCI state refused');
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
