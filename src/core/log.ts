// One pino logger for the daemon: JSON lines, level from --log-level or INTERCEPTD_LOG.
// Writes are buffered and asynchronous: a slow log reader must never stall a syscall.

import { pino, type Logger as PinoLogger } from 'pino';
import { LogSink } from './log-sink.js';

export type Logger = PinoLogger;

export interface DaemonLogger {
  readonly log: Logger;
  /** Writes out what is buffered (call before exiting). */
  flush(): void;
}

/**
 * A pino logger writing to `dest` (an fd, or a file appended to) through a LogSink:
 * batches of 4 KiB or 50 ms; a SIGKILL loses at most the last 50 ms.
 */
export function batchedLogger(dest: number | string, opts: { level?: string; name: string }): DaemonLogger {
  const sink = new LogSink(dest);
  // Whatever ends the process (a failed start, a handover) writes out what is buffered.
  process.once('exit', () => sink.flushSync());
  return {
    log: pino({ level: opts.level ?? 'info', base: { name: opts.name } }, sink),
    flush: () => sink.flushSync(),
  };
}

export function createLogger(level = process.env.INTERCEPTD_LOG ?? 'info', fd = 1): DaemonLogger {
  return batchedLogger(fd, { level, name: 'interceptd' });
}

/** A logger that writes nothing (tests, CLI subcommands). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
