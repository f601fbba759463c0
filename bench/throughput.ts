// Aggregate throughput: k containers issue declined calls at once, in one shared
// window of CLOCK_MONOTONIC time. Each container's p99 is compared with the p99 of the
// same target measured with one container.

import type { BenchCase } from './cases.js';
import { treeUsage } from './lib/proc.js';
import { summarize, type Summary } from './lib/stats.js';
import { answeredAsExpected, describeErrnos, type CallerRun, type Target } from './target.js';

const STAGGER_MS = 60;

export interface ThroughputResult {
  readonly target: string;
  readonly containers: number;
  readonly calls: number;
  readonly calls_per_s: number;
  readonly per_container: (Summary & { errors: number; err: string })[];
  /** Containers whose calls did not all fail with the expected errno (e.g. ENOSYS: no proxy). */
  readonly unexpected: string[];
  readonly worst_p99_us: number;
  /** CPU of the serving process per 1000 calls during the window (warm-up included). */
  readonly cpu_ms_per_1000?: { main: number; children: number };
}

export async function measureThroughput(
  label: string,
  targets: readonly Target[],
  c: BenchCase,
  opts: { windowMs: number; leadMs: number; warmup: number; servingPid?: number },
): Promise<ThroughputResult> {
  const now = process.hrtime.bigint();
  const window = { startNs: now + BigInt(opts.leadMs) * 1_000_000n, endNs: now + BigInt(opts.leadMs + opts.windowMs) * 1_000_000n };
  const before = opts.servingPid ? treeUsage(opts.servingPid) : undefined;
  // Staggered: 16 lxc-attach at the same instant sometimes leave one attached process with
  // a notify filter but no listener (liblxc 5.0.2; its calls then fail with ENOSYS at once,
  // with the C floor too). The shared window still starts every timed loop together.
  const runs: CallerRun[] = await Promise.all(
    targets.map((t, i) => new Promise((r) => setTimeout(r, i * STAGGER_MS)).then(() => t.run(c, opts.warmup, 2_000_000, window))),
  );
  const after = opts.servingPid ? treeUsage(opts.servingPid) : undefined;
  const late = runs.filter((r) => BigInt(r.t0_ns) > window.startNs + 50_000_000n).length;
  if (late > 0) throw new Error(`${late} of ${targets.length} callers started more than 50 ms late; raise the lead time`);
  const calls = runs.reduce((s, r) => s + r.count, 0);
  const t0 = Math.min(...runs.map((r) => r.t0_ns));
  const t1 = Math.max(...runs.map((r) => r.t1_ns));
  const perContainer = runs.map((r) => ({ ...summarize(r.ns), errors: r.errors, err: r.err }));
  const unexpected = runs.flatMap((r, i) => (answeredAsExpected(r, c.expect) ? [] : [`#${i + 1}: ${describeErrnos(r)}`]));
  const total = calls + opts.warmup * targets.length;
  return {
    target: label,
    containers: targets.length,
    calls,
    calls_per_s: Math.round((calls * 1e9) / (t1 - t0)),
    per_container: perContainer,
    unexpected,
    worst_p99_us: Math.max(...perContainer.map((s) => s.p99_us)),
    ...(before && after
      ? {
          cpu_ms_per_1000: {
            main: Math.round(((after.main.cpu_us - before.main.cpu_us) / total) * 100) / 100,
            children: Math.round(((after.children_cpu_us - before.children_cpu_us) / total) * 100) / 100,
          },
        }
      : {}),
  };
}
