// Crash recovery: the keeper (native/helper/interceptd-keeper.c) holds a copy of every
// socket the daemon serves, so a daemon killed with SIGKILL loses none of them: liblxc's
// connections stay open and requests wait in them until the next daemon takes them back.
// Which connection had a request in flight is recorded in a shared memory table (a memfd
// the keeper also holds), written with plain memory stores: nothing on the hot path.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import koffi from 'koffi';
import { NATIVE_BIN_DIR } from '../native/paths.js';
import { watchFd } from '../native/poll.js';
import { MessageReceiver, closeFd, connectUnix, sendMessage, type PeerCred } from '../native/unix-socket.js';
import type { Logger } from './core/log.js';
import type { OciState } from '../protocol/oci-state.js';

export const KEEPER_SOCKET = 'keeper.socket';

export const DEFAULT_KEEPER = path.join(NATIVE_BIN_DIR, 'interceptd-keeper');

const libc = koffi.load('libc.so.6');
const memfdCreate = libc.func('int memfd_create(const char *name, unsigned int flags)');
const ftruncate = libc.func('int ftruncate(int fd, long len)');
const mmap = libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)');

/** What each kept fd is. */
export type KeptMeta =
  | { readonly kind: 'inflight-table' }
  | { readonly kind: 'oci-listener' }
  | { readonly kind: 'oci-notify'; readonly state: OciState }
  | { readonly kind: 'liblxc-listener' }
  | { readonly kind: 'liblxc-connection'; readonly peer: PeerCred; readonly name: string | undefined; readonly slot: number };

export interface Kept {
  readonly id: number;
  readonly meta: KeptMeta;
  readonly fd: number;
}

const SLOTS = 4096;
/**
 * A slot: u32 state | u32 keeper id | 112 bytes. State 1: a liblxc request in flight (the
 * bytes are its first 112); state 2: an OCI notification in flight on the notify fd kept
 * under that id (the bytes start with its id).
 */
const SLOT = 120;
export const ECHO = 112;

/** Which connection has a request in flight, in memory shared with the keeper. */
export class InflightTable {
  readonly buf: Buffer;
  private readonly free: number[] = [];

  private constructor(
    readonly fd: number,
    fresh: boolean,
  ) {
    const ptr = mmap(null, SLOTS * SLOT, 3 /* PROT_READ|PROT_WRITE */, 1 /* MAP_SHARED */, fd, 0) as bigint;
    if (ptr === -1n || ptr === 0xffff_ffff_ffff_ffffn) throw new Error('mmap of the in-flight table failed');
    this.buf = Buffer.from(koffi.view(ptr, SLOTS * SLOT));
    if (fresh) this.buf.fill(0);
  }

  static create(): InflightTable {
    const fd = memfdCreate('interceptd-inflight', 1 /* MFD_CLOEXEC */);
    if (fd < 0 || ftruncate(fd, SLOTS * SLOT) !== 0) throw new Error('cannot create the in-flight table');
    return new InflightTable(fd, true);
  }

  static adopt(fd: number): InflightTable {
    return new InflightTable(fd, false);
  }

  /** Slots in use by `used` are taken; the others become free. */
  reserve(used: ReadonlySet<number>): void {
    this.free.length = 0;
    for (let i = SLOTS - 1; i >= 0; i--) if (!used.has(i)) this.free.push(i);
  }

  take(): number {
    const slot = this.free.pop();
    if (slot === undefined) return -1;
    this.buf.writeUInt32LE(0, slot * SLOT);
    return slot;
  }

  give(slot: number): void {
    if (slot < 0) return;
    this.buf.writeUInt32LE(0, slot * SLOT);
    this.free.push(slot);
  }

  begin(slot: number, echo: Buffer): void {
    if (slot < 0) return;
    echo.copy(this.buf, slot * SLOT + 8, 0, ECHO);
    this.buf.writeUInt32LE(1, slot * SLOT);
  }

  /** An OCI notification received on the notify fd kept as `keeperId`, not answered yet. */
  beginOci(slot: number, keeperId: number, notifId: bigint): void {
    if (slot < 0) return;
    this.buf.writeUInt32LE(keeperId, slot * SLOT + 4);
    this.buf.writeBigUInt64LE(notifId, slot * SLOT + 8);
    this.buf.writeUInt32LE(2, slot * SLOT);
  }

  /** OCI notifications a crashed daemon left unanswered, by the keeper id of their notify fd. */
  pendingOci(): { keeperId: number; notifId: bigint }[] {
    const out: { keeperId: number; notifId: bigint }[] = [];
    for (let slot = 0; slot < SLOTS; slot++) {
      if (this.buf.readUInt32LE(slot * SLOT) !== 2) continue;
      out.push({ keeperId: this.buf.readUInt32LE(slot * SLOT + 4), notifId: this.buf.readBigUInt64LE(slot * SLOT + 8) });
      this.buf.writeUInt32LE(0, slot * SLOT);
    }
    return out;
  }

  /** Cleared before the reply is sent: a crash in between costs one 30 s wait, never a reply too many. */
  end(slot: number): void {
    if (slot >= 0) this.buf.writeUInt32LE(0, slot * SLOT);
  }

  /** The saved request prefix if a request was in flight in `slot`. */
  pending(slot: number): Buffer | undefined {
    if (slot < 0 || slot >= SLOTS || this.buf.readUInt32LE(slot * SLOT) !== 1) return undefined;
    return Buffer.from(this.buf.subarray(slot * SLOT + 8, slot * SLOT + 8 + ECHO));
  }
}

/** The daemon's connection to the keeper. */
export class Keeper {
  private nextId = 2;

  private constructor(
    private readonly conn: number,
    private readonly log: Logger,
  ) {}

  /** Connects to the running keeper, starting one if there is none. */
  static async connect(stateDir: string, log: Logger, binary = DEFAULT_KEEPER, graceMs = 5000): Promise<{ keeper: Keeper; started: boolean }> {
    const socket = path.join(stateDir, KEEPER_SOCKET);
    try {
      return { keeper: new Keeper(connectUnix(socket), log), started: false };
    } catch {
      // None running (or a stale socket file): start one, detached, so it outlives us.
    }
    const child = spawn(binary, [socket, String(graceMs)], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the keeper did not start')), 5000);
      child.once('error', reject);
      child.stdout!.once('data', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    child.stdout!.destroy();
    child.unref();
    log.info({ pid: child.pid }, 'keeper started');
    return { keeper: new Keeper(connectUnix(socket), log), started: true };
  }

  private send(op: string, id: number, meta?: KeptMeta, fd?: number): void {
    const body = meta === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(meta));
    const msg = Buffer.alloc(5 + body.length);
    msg.write(op, 0, 'latin1');
    msg.writeUInt32LE(id, 1);
    body.copy(msg, 5);
    try {
      if (!sendMessage(this.conn, msg, fd === undefined ? [] : [fd])) this.log.warn({ op }, 'keeper socket full');
    } catch (err) {
      this.log.error({ err, op }, 'keeper unreachable: crash recovery is degraded');
    }
  }

  /** Keeps a copy of `fd`; returns the id to drop it by. */
  put(meta: KeptMeta, fd: number, id = this.nextId++): number {
    this.send('P', id, meta, fd);
    return id;
  }

  drop(id: number): void {
    this.send('D', id);
  }

  reset(): void {
    this.send('R', 0);
  }

  /** Stops the keeper: every socket it held closes (a deliberate stop). */
  quit(): void {
    this.send('Q', 0);
    closeFd(this.conn);
  }

  /** Leaves the keeper running with what it holds (a handover or a crash-safe exit). */
  detach(): void {
    closeFd(this.conn);
  }

  /** Everything a previous daemon left with the keeper. */
  async dump(timeoutMs = 5000): Promise<Kept[]> {
    this.send('G', 0);
    const rx = new MessageReceiver(8 + 16384, 2);
    const out: Kept[] = [];
    const until = Date.now() + timeoutMs;
    for (;;) {
      const r = rx.recv(this.conn);
      if (r.kind === 'again') {
        if (Date.now() > until) throw new Error('keeper did not answer');
        await new Promise<void>((resolve) => {
          const w = watchFd(this.conn, { readable: true, disconnect: true }, () => {
            w.close();
            resolve();
          });
        });
        continue;
      }
      if (r.kind === 'eof') throw new Error('keeper closed the connection');
      const op = String.fromCharCode(rx.data[0]!);
      if (op === 'Z') return out;
      if (op !== 'E' || r.fds.length !== 1) {
        r.fds.forEach(closeFd);
        continue;
      }
      try {
        const meta = JSON.parse(rx.data.toString('utf8', 5, r.length)) as KeptMeta;
        out.push({ id: rx.data.readUInt32LE(1), meta, fd: r.fds[0]! });
      } catch {
        closeFd(r.fds[0]!);
      }
    }
  }
}

export function keeperSocketExists(stateDir: string): boolean {
  return fs.existsSync(path.join(stateDir, KEEPER_SOCKET));
}

/** What the liblxc server tells the keeper about its sockets, and where it marks requests in flight. */
export class KeptSockets {
  constructor(
    readonly keeper: Keeper,
    readonly table: InflightTable,
  ) {}

  listener(fd: number): void {
    this.keeper.put({ kind: 'liblxc-listener' }, fd);
  }

  /** Returns the keeper id and the in-flight slot of a new connection. */
  added(fd: number, peer: PeerCred, name: string | undefined): { id: number; slot: number } {
    const slot = this.table.take();
    return { id: this.keeper.put({ kind: 'liblxc-connection', peer, name, slot }, fd), slot };
  }

  renamed(kept: { id: number; slot: number }, fd: number, peer: PeerCred, name: string): void {
    this.keeper.put({ kind: 'liblxc-connection', peer, name, slot: kept.slot }, fd, kept.id);
  }

  removed(kept: { id: number; slot: number }): void {
    this.keeper.drop(kept.id);
    this.table.give(kept.slot);
  }

  ociListener(fd: number): void {
    this.keeper.put({ kind: 'oci-listener' }, fd);
  }

  /** A notify fd an OCI runtime handed over; returns its keeper id. */
  ociNotify(fd: number, state: OciState): number {
    return this.keeper.put({ kind: 'oci-notify', state }, fd);
  }

  dropped(id: number): void {
    this.keeper.drop(id);
  }
}
