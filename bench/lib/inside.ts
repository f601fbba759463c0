// Where an emulated call's time goes, from the daemon's own audit lines: `elapsed_us`
// (notification received → action done) and `us` (the helper's round trip within it).
// What the caller sees on top is the relay: caller → monitor → daemon and back.

import fs from 'node:fs';
import { median } from './stats.js';

export interface Inside {
  /** The audit message, e.g. "mknod emulated". */
  readonly action: string;
  readonly n: number;
  /** Medians, µs. */
  readonly elapsed_us: number;
  readonly helper_us: number | undefined;
}

/** The log's size now: pass it to `insideSince` to read only what is written after. */
export function logMark(logFile: string): number {
  try {
    return fs.statSync(logFile).size;
  } catch {
    return 0;
  }
}

export function insideSince(logFile: string, mark: number): Inside[] {
  let text: string;
  try {
    text = fs.readFileSync(logFile).subarray(mark).toString('utf8');
  } catch {
    return [];
  }
  const by = new Map<string, { elapsed: number[]; helper: number[] }>();
  for (const line of text.split('\n')) {
    if (!line.includes('"audit":true')) continue;
    let o: { msg?: unknown; elapsed_us?: unknown; us?: unknown };
    try {
      o = JSON.parse(line) as typeof o;
    } catch {
      continue;
    }
    if (typeof o.msg !== 'string' || typeof o.elapsed_us !== 'number') continue;
    const e = by.get(o.msg) ?? { elapsed: [], helper: [] };
    e.elapsed.push(o.elapsed_us);
    if (typeof o.us === 'number') e.helper.push(o.us);
    by.set(o.msg, e);
  }
  return [...by].map(([action, e]) => ({
    action,
    n: e.elapsed.length,
    elapsed_us: Math.round(median(e.elapsed)),
    helper_us: e.helper.length ? Math.round(median(e.helper)) : undefined,
  }));
}
