// The daemon's side of the privileged helper: one long-lived C process, started on
// demand and restarted when it dies. A request that outlives its deadline kills
// the helper, so a hung action can never hold a syscall past its deadline.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  HELPER_FLAG_GONE,
  HELPER_REPLY_SIZE,
  decodeHelperReply,
  encodeMknod,
  encodePing,
  encodeMount,
  encodeSched,
  encodeSetxattr,
  type HelperReply,
  type MknodRequest,
  type MountRequest,
  type SchedRequest,
  type SetxattrRequest,
} from '../protocol/helper-wire.js';
import { NATIVE_BIN_DIR } from './paths.js';
import { watchFd, type FdWatcher } from './poll.js';
import { MessageReceiver, closeFd, sendMessage, socketPair } from './unix-socket.js';

/** ICD_TARGET_GONE: the request is no longer pending (the caller was killed or interrupted); nothing was done. */
export type HelperErrorCode = 'ICD_HELPER_TIMEOUT' | 'ICD_HELPER_DIED' | 'ICD_HELPER_SEND' | 'ICD_HELPER_CLOSED' | 'ICD_TARGET_GONE';

export class HelperError extends Error {
  readonly code: HelperErrorCode;
  constructor(code: HelperErrorCode, message: string) {
    super(message);
    this.name = 'HelperError';
    this.code = code;
  }
}

export interface HelperLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface HelperOptions {
  /** Path of the interceptd-helper binary. */
  readonly binary?: string;
  /** Directory the helper mounts its private device tmpfs on. */
  readonly deviceDir: string;
  readonly log: HelperLog;
}

interface Pending {
  resolve(r: HelperReply): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export const DEFAULT_HELPER = path.join(NATIVE_BIN_DIR, 'interceptd-helper');

/** What handlers need from the privileged helper (one process, or a pool of them). */
export interface Helper {
  mknod(notifId: bigint, req: MknodRequest, procFd: number, listenerFd: number, timeoutMs: number): Promise<HelperReply>;
  setxattr(notifId: bigint, req: SetxattrRequest, procFd: number, listenerFd: number, timeoutMs: number): Promise<HelperReply>;
  sched(notifId: bigint, req: SchedRequest, procFd: number, listenerFd: number, timeoutMs: number): Promise<HelperReply>;
  mount(notifId: bigint, req: MountRequest, procFd: number, listenerFd: number, timeoutMs: number): Promise<HelperReply>;
  ping(timeoutMs?: number): Promise<HelperReply>;
  close(): void;
}

export class HelperClient implements Helper {
  private child: ChildProcess | undefined;
  private fd = -1;
  private watcher: FdWatcher | undefined;
  private readonly receiver = new MessageReceiver(HELPER_REPLY_SIZE * 2, 1);
  private readonly pending = new Map<bigint, Pending>();
  private seq = 0n;
  private closed = false;
  /** Restarts since the daemon started (for status and metrics). */
  restarts = 0;

  constructor(private readonly opts: HelperOptions) {}

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Requests sent and not answered yet. */
  get busy(): number {
    return this.pending.size;
  }

  /** Asks the helper to create a device node as the caller. */
  mknod(notifId: bigint, req: MknodRequest, procFd: number, listenerFd: number, timeoutMs: number): Promise<HelperReply> {
    return this.call((seq) => encodeMknod(seq, notifId, req), [procFd, listenerFd], timeoutMs);
  }

  /** Sets an xattr as host root on a file the caller reaches. */
  setxattr(notifId: bigint, req: SetxattrRequest, procFd: number, listenerFd: number, timeoutMs: number): Promise<HelperReply> {
    return this.call((seq) => encodeSetxattr(seq, notifId, req), [procFd, listenerFd], timeoutMs);
  }

  /** sched_setscheduler as host root, with the pid resolved in the caller's pid namespace. */
  sched(notifId: bigint, req: SchedRequest, procFd: number, listenerFd: number, timeoutMs: number): Promise<HelperReply> {
    return this.call((seq) => encodeSched(seq, notifId, req), [procFd, listenerFd], timeoutMs);
  }

  /** A new mount made with host privilege, onto a target resolved as the caller. */
  mount(notifId: bigint, req: MountRequest, procFd: number, listenerFd: number, timeoutMs: number): Promise<HelperReply> {
    return this.call((seq) => encodeMount(seq, notifId, req), [procFd, listenerFd], timeoutMs);
  }

  ping(timeoutMs = 2000): Promise<HelperReply> {
    return this.call((seq) => encodePing(seq), [], timeoutMs);
  }

  private call(encode: (seq: bigint) => Buffer, fds: number[], timeoutMs: number): Promise<HelperReply> {
    if (this.closed) return Promise.reject(new HelperError('ICD_HELPER_CLOSED', 'helper client closed'));
    this.ensureStarted();
    const seq = ++this.seq;
    const msg = encode(seq);
    return new Promise<HelperReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.opts.log.error({ seq: seq.toString(), timeoutMs }, 'helper request timed out; killing the helper');
        this.kill(new HelperError('ICD_HELPER_TIMEOUT', `helper did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(seq, { resolve, reject, timer });
      let sent = false;
      try {
        sent = sendMessage(this.fd, msg, fds);
      } catch {
        sent = false;
      }
      if (!sent) this.settle(seq, new HelperError('ICD_HELPER_SEND', 'cannot send to the helper'));
    });
  }

  private settle(seq: bigint, result: HelperReply | Error): void {
    const p = this.pending.get(seq);
    if (p === undefined) return;
    this.pending.delete(seq);
    clearTimeout(p.timer);
    if (result instanceof Error) p.reject(result);
    else p.resolve(result);
  }

  private ensureStarted(): void {
    if (this.child !== undefined) return;
    fs.mkdirSync(path.dirname(this.opts.deviceDir), { recursive: true, mode: 0o700 });
    const [mine, theirs] = socketPair();
    const binary = this.opts.binary ?? DEFAULT_HELPER;
    const child = spawn(binary, [this.opts.deviceDir], { stdio: ['ignore', 'ignore', 'pipe', theirs] });
    closeFd(theirs);
    this.child = child;
    this.fd = mine;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => this.opts.log.warn({ helper: text.trim() }, 'helper says'));
    child.on('error', (err) => this.opts.log.error({ err }, 'helper failed to start'));
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.restarts++;
      this.opts.log.warn({ code, signal }, 'helper exited');
      this.detach(new HelperError('ICD_HELPER_DIED', `helper exited (${signal ?? code})`));
    });
    this.watcher = watchFd(mine, { readable: true, disconnect: true }, (_status, ev) => {
      if (ev.readable) this.drain();
      if (ev.disconnect && !ev.readable) this.kill(new HelperError('ICD_HELPER_DIED', 'helper closed its socket'));
    });
    this.opts.log.info({ pid: child.pid, binary }, 'helper started');
  }

  private drain(): void {
    for (;;) {
      if (this.fd < 0) return;
      let got;
      try {
        got = this.receiver.recv(this.fd);
      } catch (err) {
        this.kill(err as Error);
        return;
      }
      if (got.kind === 'again') return;
      if (got.kind === 'eof') {
        this.kill(new HelperError('ICD_HELPER_DIED', 'helper closed its socket'));
        return;
      }
      for (const f of got.fds) closeFd(f);
      const reply = decodeHelperReply(this.receiver.data, got.length);
      if (!reply.ok) {
        this.kill(reply.error);
        return;
      }
      if ((reply.value.flags & HELPER_FLAG_GONE) !== 0) {
        this.settle(reply.value.seq, new HelperError('ICD_TARGET_GONE', `the caller was killed or interrupted (helper errno ${reply.value.errno})`));
      } else {
        this.settle(reply.value.seq, reply.value);
      }
    }
  }

  /** Stops the helper and fails everything it was doing; the next request starts a new one. */
  private kill(reason: Error): void {
    const child = this.child;
    this.detach(reason);
    if (child !== undefined) {
      this.restarts++;
      child.kill('SIGKILL');
    }
  }

  private detach(reason: Error): void {
    this.watcher?.close();
    this.watcher = undefined;
    closeFd(this.fd);
    this.fd = -1;
    this.child = undefined;
    for (const seq of [...this.pending.keys()]) this.settle(seq, reason);
  }

  close(): void {
    this.closed = true;
    this.kill(new HelperError('ICD_HELPER_CLOSED', 'helper client closed'));
  }
}

/**
 * Several helpers, so one action stuck in the kernel (a hung FUSE path, a slow disk)
 * delays nobody else: each request goes to an idle helper, a new one is started while
 * fewer than `size` run, and only then do requests queue on the least busy one.
 */
export class HelperPool implements Helper {
  private readonly clients: HelperClient[] = [];

  constructor(
    private readonly opts: HelperOptions,
    private readonly size = 4,
  ) {}

  get restarts(): number {
    return this.clients.reduce((n, c) => n + c.restarts, 0);
  }

  get running(): number {
    return this.clients.filter((c) => c.running).length;
  }

  private pick(): HelperClient {
    const idle = this.clients.find((c) => c.busy === 0);
    if (idle !== undefined) return idle;
    if (this.clients.length < this.size) {
      const client = new HelperClient({ ...this.opts, deviceDir: `${this.opts.deviceDir}/${this.clients.length}` });
      this.clients.push(client);
      return client;
    }
    return this.clients.reduce((a, b) => (b.busy < a.busy ? b : a));
  }

  mknod(...a: Parameters<Helper['mknod']>): Promise<HelperReply> {
    return this.pick().mknod(...a);
  }

  setxattr(...a: Parameters<Helper['setxattr']>): Promise<HelperReply> {
    return this.pick().setxattr(...a);
  }

  sched(...a: Parameters<Helper['sched']>): Promise<HelperReply> {
    return this.pick().sched(...a);
  }

  mount(...a: Parameters<Helper['mount']>): Promise<HelperReply> {
    return this.pick().mount(...a);
  }

  ping(timeoutMs?: number): Promise<HelperReply> {
    return this.pick().ping(timeoutMs);
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}
