// Readiness from Node's own epoll (a libuv poll handle via koffi), so no thread blocks.

import koffi from 'koffi';
import { c } from './libc.js';

export interface PollEvents {
  readonly readable: boolean;
  readonly writable: boolean;
  readonly disconnect: boolean;
}

export interface FdWatcher {
  start(): void;
  stop(): void;
  close(): void;
  unref(): void;
}

// The real callback receives (status, events); koffi's .d.ts declares only (events).
type RealCallback = (status: number, events: PollEvents) => void;

export function watchFd(
  fd: number,
  opts: { readable?: boolean; disconnect?: boolean },
  onEvent: (status: number, events: PollEvents) => void,
): FdWatcher {
  const cb: RealCallback = (status, events) => onEvent(status, events);
  const handle = koffi.node.poll(fd, opts, cb as unknown as (ev: PollEvents) => void);
  let closed = false;
  return {
    start: () => {
      if (!closed) handle.start(opts, cb as unknown as (ev: PollEvents) => void);
    },
    stop: () => {
      if (!closed) handle.stop();
    },
    close: () => {
      if (closed) return;
      closed = true;
      handle.close();
    },
    unref: () => handle.unref(),
  };
}

export const POLLIN = 0x1;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;

const pollfd = Buffer.alloc(8);

/** The fd's readiness right now (poll with a zero timeout): revents, or 0 on error. */
export function readyNow(fd: number): number {
  pollfd.writeInt32LE(fd, 0);
  pollfd.writeInt16LE(POLLIN, 4);
  pollfd.writeInt16LE(0, 6);
  return c.poll(pollfd, 1, 0) > 0 ? pollfd.readUInt16LE(6) : 0;
}
