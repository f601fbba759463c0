// Where the bench caller runs: an LXC container (interceptd or the C floor), an LXD
// container, or an OCI container. Each target runs the same static program the same way.

import type { BenchCase } from './cases.js';

/** What the caller prints: every sample, in nanoseconds. */
export interface CallerRun {
  readonly case: string;
  readonly count: number;
  readonly errors: number;
  readonly err: string;
  /** Every distinct errno seen, with its count. */
  readonly errnos: Record<string, number>;
  readonly t0_ns: number;
  readonly t1_ns: number;
  readonly ns: number[];
}

/** A shared measuring window on CLOCK_MONOTONIC (the same clock in every container). */
export interface Window {
  readonly startNs: bigint;
  readonly endNs: bigint;
}

export interface Target {
  /** e.g. "interceptd", "floor", "lxd". */
  readonly label: string;
  run(c: BenchCase, warmup: number, n: number, window?: Window): Promise<CallerRun>;
}

/** Where targets install the caller inside their containers. */
export const CALLER_PATH = '/bin/bench-caller';

export function callerArgv(c: BenchCase, warmup: number, n: number, window?: Window): string[] {
  return [
    CALLER_PATH, c.caller, String(warmup), String(n),
    ...(c.arg === undefined ? [] : [c.arg]),
    ...(window ? [String(window.startNs), String(window.endNs)] : []),
  ];
}

export function parseCallerOutput(where: string, status: number | null, stdout: string, stderr: string): CallerRun {
  const last = stdout.trim().split('\n').pop() ?? '';
  try {
    const run = JSON.parse(last) as CallerRun;
    if (!Array.isArray(run.ns)) throw new Error('no samples');
    return run;
  } catch {
    throw new Error(`bench-caller in ${where} printed no result (status ${status}): ${stdout.slice(0, 500)}${stderr.slice(0, 2000)}`);
  }
}

/**
 * Whether every call got the answer the case expects: success, or `expect` for all of
 * them. Anything else (typically ENOSYS at once: the attached process has a notify
 * filter but no listener) means the run measured something else.
 */
export function answeredAsExpected(run: CallerRun, expect: string): boolean {
  const seen = Object.keys(run.errnos ?? {});
  return expect === '' ? run.errors === 0 : run.errors === run.count && seen.length === 1 && seen[0] === expect;
}

export function describeErrnos(run: CallerRun): string {
  const seen = Object.entries(run.errnos ?? {});
  return seen.length ? seen.map(([e, n]) => `${n} × ${e}`).join(', ') : 'no errors';
}
