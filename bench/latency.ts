// Per-call latency, alternating targets round by round: the same case runs in each
// target's container in turn (the order flips every round), so that the machine's
// drift and noise hit every target alike. Ratios are medians of per-round ratios.

import type { BenchCase } from './cases.js';
import { treeUsage } from './lib/proc.js';
import { roundRatio, roundRatios, summarize, type Summary } from './lib/stats.js';
import { answeredAsExpected, describeErrnos, type Target } from './target.js';

export interface RoundTarget extends Target {
  supports(c: BenchCase): boolean;
  readonly servingPid?: number;
}

export interface TargetCaseResult {
  readonly summary: Summary;
  readonly errors: number;
  readonly err: string;
  /** Per-round medians, µs. */
  readonly round_medians_us: number[];
  /** CPU of the serving process (and its children) per 1000 calls, warm-up included. */
  readonly cpu_ms_per_1000?: { main: number; children: number };
  /** Raw samples per round (kept out of the JSON). */
  readonly rounds: number[][];
}

export interface LatencyOptions {
  readonly rounds: number;
  readonly perRound: number;
  readonly warmup: number;
  readonly log?: (line: string) => void;
  /** Told about each run that was repeated because its answers were not the expected ones. */
  readonly onInvalid?: (what: string) => void;
}

export type LatencyResults = Map<string, Map<string, TargetCaseResult>>;

export async function measureLatency(targets: readonly RoundTarget[], cases: readonly BenchCase[], opts: LatencyOptions): Promise<LatencyResults> {
  const raw = new Map<string, Map<string, { rounds: number[][]; errors: number; err: string; cpuMain: number; cpuChildren: number; calls: number }>>();
  // Round 0 warms every path (daemon JIT, helper pool, caches) and is thrown away.
  for (let round = 0; round <= opts.rounds; round++) {
    for (const c of cases) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) {
        if (!t.supports(c)) continue;
        const n = round === 0 ? Math.max(50, Math.floor(opts.perRound / 4)) : opts.perRound;
        const before = t.servingPid ? treeUsage(t.servingPid) : undefined;
        let run = await t.run(c, opts.warmup, n);
        // A run not answered as the case expects measured something else: repeat it, at most twice.
        for (let retry = 1; retry <= 2 && !answeredAsExpected(run, c.expect); retry++) {
          opts.onInvalid?.(`${t.label} ${c.id} round ${round}: ${describeErrnos(run)}, expected ${c.expect || 'success'}; repeated`);
          run = await t.run(c, opts.warmup, n);
        }
        if (!answeredAsExpected(run, c.expect)) {
          throw new Error(`${t.label} ${c.id}: ${describeErrnos(run)} three times, expected ${c.expect || 'success'}`);
        }
        const after = t.servingPid ? treeUsage(t.servingPid) : undefined;
        if (round === 0) continue;
        const byTarget = raw.get(c.id) ?? new Map();
        raw.set(c.id, byTarget);
        const acc = byTarget.get(t.label) ?? { rounds: [], errors: 0, err: '', cpuMain: 0, cpuChildren: 0, calls: 0 };
        byTarget.set(t.label, acc);
        acc.rounds.push(run.ns);
        acc.errors += run.errors;
        if (run.err) acc.err = run.err;
        if (before && after) {
          acc.cpuMain += after.main.cpu_us - before.main.cpu_us;
          acc.cpuChildren += after.children_cpu_us - before.children_cpu_us;
          acc.calls += opts.warmup + run.count;
        }
      }
    }
    opts.log?.(round === 0 ? 'latency: warm-up round done' : `latency: round ${round}/${opts.rounds} done`);
  }
  const out: LatencyResults = new Map();
  for (const [caseId, byTarget] of raw) {
    const m = new Map<string, TargetCaseResult>();
    for (const [label, acc] of byTarget) {
      m.set(label, {
        summary: summarize(acc.rounds.flat()),
        errors: acc.errors,
        err: acc.err,
        round_medians_us: acc.rounds.map((r) => summarize(r).median_us),
        ...(acc.calls > 0
          ? { cpu_ms_per_1000: { main: round2(acc.cpuMain / acc.calls), children: round2(acc.cpuChildren / acc.calls) } }
          : {}),
        rounds: acc.rounds,
      });
    }
    out.set(caseId, m);
  }
  return out;
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

export interface Comparison {
  /** Medians over rounds of the per-round ratios of medians and of p99s. */
  readonly median: number;
  readonly p99: number;
  /** The same for p10, the calls least disturbed by other work on the machine. */
  readonly p10: number;
  /** Every round's ratio of medians, to show how much the machine moved. */
  readonly median_by_round: number[];
}

/** mine/theirs for one case. */
export function compare(results: LatencyResults, caseId: string, mine: string, theirs: string): Comparison | undefined {
  const a = results.get(caseId)?.get(mine);
  const b = results.get(caseId)?.get(theirs);
  if (!a || !b) return undefined;
  const median = roundRatio(a.rounds, b.rounds, (s) => s.median_us);
  const p99 = roundRatio(a.rounds, b.rounds, (s) => s.p99_us);
  const p10 = roundRatio(a.rounds, b.rounds, (s) => s.p10_us);
  if (median === undefined || p99 === undefined || p10 === undefined) return undefined;
  return { median, p99, p10, median_by_round: roundRatios(a.rounds, b.rounds, (s) => s.median_us) };
}
