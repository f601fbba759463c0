// One pino logger for the daemon: JSON lines, level from --log-level or INTERCEPTD_LOG.

import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export function createLogger(level = process.env.INTERCEPTD_LOG ?? 'info'): Logger {
  return pino({ level, base: { name: 'interceptd' } });
}

/** A logger that writes nothing (tests, CLI subcommands). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
