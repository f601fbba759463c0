// Readiness from Node's own epoll (a libuv poll handle via koffi), so no thread blocks.

import koffi from 'koffi';

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
