// The control socket, <state-dir>/control.socket: root only, SOCK_SEQPACKET, one msgpack
// map per datagram each way. `interceptd status` and `interceptd reload` speak it.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Packr } from 'msgpackr';
import { watchFd, type FdWatcher } from '../native/poll.js';
import { MessageReceiver, closeFd, connectUnix, listenUnix, sendMessage } from '../native/unix-socket.js';
import { acceptRootPeers } from './core/accept.js';
import type { Logger } from './core/log.js';
import { removeStaleSocket } from './core/state-dir.js';

export const CONTROL_SOCKET = 'control.socket';
const MAX_FRAME = 256 * 1024;

// Plain msgpack (no record extension), so other tools can read the frames. Loaded on the
// first frame: start-up should not pay for a socket that may never be used.
let packrInstance: Packr | undefined;
function packr(): Packr {
  if (packrInstance === undefined) {
    const { Packr: P } = createRequire(import.meta.url)('msgpackr') as typeof import('msgpackr');
    packrInstance = new P({ useRecords: false, mapsAsObjects: true });
  }
  return packrInstance;
}

export type ControlRequest = { readonly cmd: 'status' } | { readonly cmd: 'reload' };
export type ControlReply = { readonly ok: true; readonly [k: string]: unknown } | { readonly ok: false; readonly error: string };

export type ControlHandler = (req: ControlRequest) => ControlReply;

export class ControlServer {
  private fd = -1;
  private watcher: FdWatcher | undefined;
  private readonly rx = new MessageReceiver(MAX_FRAME, 1);
  private readonly clients = new Map<number, FdWatcher>();

  constructor(
    private readonly stateDir: string,
    private readonly handle: ControlHandler,
    private readonly log: Logger,
  ) {}

  listen(): void {
    const socket = path.join(this.stateDir, CONTROL_SOCKET);
    removeStaleSocket(socket);
    this.fd = listenUnix(socket);
    fs.chmodSync(socket, 0o600);
    this.watcher = watchFd(this.fd, { readable: true }, () => this.acceptAll());
  }

  private acceptAll(): void {
    acceptRootPeers(this.fd, this.log, (fd) => {
      this.clients.set(fd, watchFd(fd, { readable: true, disconnect: true }, () => this.serve(fd)));
    });
  }

  private serve(fd: number): void {
    for (;;) {
      let got;
      try {
        got = this.rx.recv(fd);
      } catch {
        return this.drop(fd);
      }
      if (got.kind === 'again') return;
      got.kind === 'message' && got.fds.forEach(closeFd);
      if (got.kind === 'eof') return this.drop(fd);
      let reply: ControlReply;
      try {
        const req = packr().unpack(this.rx.data.subarray(0, got.length)) as ControlRequest;
        reply = this.handle(req);
      } catch (err) {
        reply = { ok: false, error: `bad request: ${(err as Error).message}` };
      }
      try {
        sendMessage(fd, packr().pack(reply));
      } catch (err) {
        this.log.warn({ err }, 'control reply failed');
        return this.drop(fd);
      }
    }
  }

  private drop(fd: number): void {
    this.clients.get(fd)?.close();
    this.clients.delete(fd);
    closeFd(fd);
  }

  close(): void {
    for (const fd of [...this.clients.keys()]) this.drop(fd);
    this.watcher?.close();
    closeFd(this.fd);
    this.fd = -1;
  }
}

/** One request to a running daemon; rejects if none is listening or it does not answer. */
export async function controlRequest(stateDir: string, req: ControlRequest, timeoutMs = 5000): Promise<ControlReply> {
  const fd = connectUnix(path.join(stateDir, CONTROL_SOCKET));
  try {
    sendMessage(fd, packr().pack(req));
    const rx = new MessageReceiver(MAX_FRAME, 1);
    const until = Date.now() + timeoutMs;
    for (;;) {
      const got = rx.recv(fd);
      if (got.kind === 'message') return packr().unpack(rx.data.subarray(0, got.length)) as ControlReply;
      if (got.kind === 'eof') throw new Error('the daemon closed the control connection');
      if (Date.now() > until) throw new Error('the daemon did not answer');
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    closeFd(fd);
  }
}
