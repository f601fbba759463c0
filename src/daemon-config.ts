// The daemon's own settings file, <config-dir>/interceptd.yaml, re-read by a reload:
//   log-level: info        (trace, debug, info, warn, error)
//   deadline-ms: 5000      (10 … 25000)
// Command-line flags give the values at start; the file, when present, overrides them.

import fs from 'node:fs';
import path from 'node:path';
import { yaml } from '../compat/yaml.js';

export const DAEMON_CONFIG = 'interceptd.yaml';
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export interface DaemonSettings {
  readonly logLevel?: string;
  readonly deadlineMs?: number;
}

export type ParsedSettings = { readonly ok: true; readonly settings: DaemonSettings } | { readonly ok: false; readonly errors: string[] };

export function parseDaemonConfig(text: string): ParsedSettings {
  let doc: unknown;
  try {
    doc = yaml().parse(text) ?? {};
  } catch (err) {
    return { ok: false, errors: [`not valid YAML: ${(err as Error).message}`] };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { ok: false, errors: ['not a map of settings'] };
  const errors: string[] = [];
  const out: { logLevel?: string; deadlineMs?: number } = {};
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    if (k === 'log-level') {
      if (typeof v === 'string' && LEVELS.includes(v)) out.logLevel = v;
      else errors.push(`"log-level" must be one of ${LEVELS.join(', ')}`);
    } else if (k === 'deadline-ms') {
      if (typeof v === 'number' && Number.isInteger(v) && v >= 10 && v <= 25000) out.deadlineMs = v;
      else errors.push('"deadline-ms" must be an integer from 10 to 25000');
    } else {
      errors.push(`unknown setting "${k}"`);
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, settings: out };
}

/** The file's settings, none if it is absent, or its errors. */
export function readDaemonConfig(configDir: string): ParsedSettings {
  let text: string;
  try {
    text = fs.readFileSync(path.join(configDir, DAEMON_CONFIG), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, settings: {} };
    return { ok: false, errors: [(err as Error).message] };
  }
  return parseDaemonConfig(text);
}
