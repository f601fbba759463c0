// One pino logger for the daemon: JSON lines, level from --log-level or INTERCEPTD_LOG.
// Writes are buffered and asynchronous: a slow log reader must never stall a syscall.

import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export interface DaemonLogger {
  readonly log: Logger;
  /** Writes out what is buffered (call before exiting). */
  flush(): void;
}

export function createLogger(level = process.env.INTERCEPTD_LOG ?? 'info'): DaemonLogger {
  const dest = pino.destination({ dest: 1, sync: false, minLength: 0 });
  const log = pino({ level, base: { name: 'interceptd' } }, dest);
  return {
    log,
    flush: () => {
      try {
        dest.flushSync();
      } catch {
        // nothing to flush, or stdout is gone
      }
    },
  };
}

/** A logger that writes nothing (tests, CLI subcommands). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
