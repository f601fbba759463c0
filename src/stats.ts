// What the daemon has done, for `interceptd status` and the metrics endpoint: counts per
// syscall and outcome, and recent latencies. Plain increments and one array store per
// request: nothing here may cost the hot path more than a few hundred nanoseconds.

export type Outcome = 'continue' | 'errno' | 'emulated' | 'failure' | 'deadline';

export const OUTCOMES: readonly Outcome[] = ['continue', 'errno', 'emulated', 'failure', 'deadline'];

export type Counts = Record<Outcome, number>;

const RING = 4096;

export class Stats {
  readonly bySyscall = new Map<string, Counts>();
  private readonly recent = new Float64Array(RING);
  private filled = 0;
  private next = 0;
  /** Called for every finished request (metrics hook); absent unless metrics are on. */
  onRecord: ((syscall: string, outcome: Outcome, seconds: number) => void) | undefined;

  record(syscall: string, outcome: Outcome, micros: number): void {
    let c = this.bySyscall.get(syscall);
    if (c === undefined) {
      c = { continue: 0, errno: 0, emulated: 0, failure: 0, deadline: 0 };
      this.bySyscall.set(syscall, c);
    }
    c[outcome]++;
    this.recent[this.next] = micros;
    this.next = (this.next + 1) % RING;
    if (this.filled < RING) this.filled++;
    this.onRecord?.(syscall, outcome, micros / 1e6);
  }

  total(): number {
    let n = 0;
    for (const c of this.bySyscall.values()) for (const o of OUTCOMES) n += c[o];
    return n;
  }

  /** Percentiles (µs) of the last 4096 requests. */
  latency(): { samples: number; p50: number; p90: number; p99: number; max: number } {
    const s = Array.from(this.recent.subarray(0, this.filled)).sort((a, b) => a - b);
    const at = (p: number): number => (s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!);
    return { samples: s.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s.length === 0 ? 0 : s[s.length - 1]! };
  }

  snapshot(): Record<string, Counts> {
    return Object.fromEntries([...this.bySyscall].map(([k, v]) => [k, { ...v }]));
  }
}
