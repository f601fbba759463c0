// Results as JSON (everything) and as a small Markdown table (what people compare),
// under integration/bench/results/, named by date and host so runs can be compared.

import fs from 'node:fs';
import path from 'node:path';
import type { FootprintResult } from './footprint.js';
import type { Inside } from './lib/inside.js';
import type { Comparison, TargetCaseResult } from './latency.js';
import type { Machine } from './lib/machine.js';
import type { Summary } from './lib/stats.js';
import type { ThroughputResult } from './throughput.js';

export interface CaseReport {
  readonly id: string;
  readonly title: string;
  readonly kind: string;
  readonly targets: Record<string, Omit<TargetCaseResult, 'rounds'>>;
  /** e.g. interceptd/floor: medians over rounds of the per-round ratios. */
  readonly ratios: Record<string, Comparison>;
}

export interface TargetCheck {
  readonly target: string;
  readonly goal: string;
  readonly measured: string;
  readonly met: boolean | 'n/a';
}

export interface Report {
  readonly machine: Machine;
  readonly settings: Record<string, unknown>;
  readonly lxc: CaseReport[];
  readonly host_native: Record<string, Summary & { title: string; err: string }>;
  readonly oci: { available: boolean; note?: string; cases: CaseReport[] };
  readonly lxd: { requested: boolean; available?: boolean; note?: string };
  readonly throughput: ThroughputResult[];
  readonly daemon: Record<string, unknown>;
  /** The LXC latency phase, from the daemon's audit lines. */
  readonly inside: Inside[];
  readonly footprint?: FootprintResult;
  readonly targets: TargetCheck[];
  readonly notes: string[];
}

const f1 = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '—' : v >= 100 ? v.toFixed(0) : v.toFixed(1));
const trio = (s: Summary | undefined): string => (s ? `${f1(s.median_us)} / ${f1(s.p99_us)} / ${f1(s.p999_us)}` : '—');
const rat = (r: Comparison | undefined): string =>
  r ? `${r.median.toFixed(2)} / ${r.p99.toFixed(2)} / ${r.p10.toFixed(2)} (${Math.min(...r.median_by_round).toFixed(2)}–${Math.max(...r.median_by_round).toFixed(2)})` : '—';

function caseTable(title: string, cases: readonly CaseReport[], mine: string, others: readonly string[]): string[] {
  const head = [`| call | ${mine} µs (median / p99 / p99.9) |`, ...others.map((o) => ` ${o} µs | ${mine}/${o}: median / p99 / p10 (range of the per-round median ratio) |`)].join('');
  const lines = [`### ${title}`, '', `${head} ${mine} CPU ms per 1000 calls (daemon + helpers) | errno seen |`,
    `|---|---|${others.map(() => '---|---|').join('')}---|---|`];
  for (const c of cases) {
    const m = c.targets[mine];
    const cpu = m?.cpu_ms_per_1000 ? `${f1(m.cpu_ms_per_1000.main)} + ${f1(m.cpu_ms_per_1000.children)}` : '—';
    const errs = Object.entries(c.targets).filter(([, t]) => t.errors > 0).map(([l, t]) => `${l}: ${t.err}`).join(', ') || 'none';
    lines.push(`| ${c.title} | ${trio(m?.summary)} |${others.map((o) => ` ${trio(c.targets[o]?.summary)} | ${rat(c.ratios[`${mine}/${o}`])} |`).join('')} ${cpu} | ${errs} |`);
  }
  return lines;
}

export function markdown(r: Report): string {
  const m = r.machine;
  const lines: string[] = [
    `# interceptd bench, ${m.date}`,
    '',
    `${m.hostname}: ${m.cpus} × ${m.cpu_model}, ${m.memory_mb} MB, ${m.os ?? 'unknown OS'}, kernel ${m.kernel}, Node ${m.node}, ` +
      `load average at start ${m.load_avg_at_start.join(' ')}. interceptd ${m.versions.interceptd} (${m.git ?? '?'}), ` +
      `LXC ${m.versions.lxc ?? '—'}, LXD ${m.versions.lxd ?? '—'}, runc ${m.versions.runc ?? '—'}.`,
    '',
    `Settings: ${Object.entries(r.settings).map(([k, v]) => `${k}=${String(v)}`).join(', ')}.`,
    '',
  ];
  const lxcOthers = ['floor', ...(r.lxc.some((c) => c.targets.lxd) ? ['lxd'] : [])];
  lines.push(...caseTable('LXC (liblxc proxy), unprivileged container', r.lxc, 'interceptd', lxcOthers), '');
  if (r.inside.length) {
    lines.push('### Inside interceptd (its audit lines for the LXC cases above, medians)', '',
      '| action | lines | notification received → action done µs | of which the helper round trip µs |', '|---|---|---|---|');
    for (const i of r.inside) lines.push(`| ${i.action} | ${i.n} | ${i.elapsed_us} | ${i.helper_us ?? '—'} |`);
    lines.push('', 'The rest of the time the caller measures is the relay (caller → kernel → liblxc monitor → interceptd and back) and sending the answer.', '');
  }
  lines.push('### The same calls by host root, natively (no container, no interception)', '', '| call | median / p99 / p99.9 µs | errno |', '|---|---|---|');
  for (const s of Object.values(r.host_native)) lines.push(`| ${s.title} | ${trio(s)} | ${s.err || 'none'} |`);
  lines.push('');
  if (r.oci.available) lines.push(...caseTable('OCI (runc, the supervisor owns the listener)', r.oci.cases, 'interceptd', ['supervisor']), '');
  else lines.push(`OCI: not measured (${r.oci.note ?? 'unavailable'}).`, '');
  if (r.lxd.requested && !r.lxd.available) lines.push(`LXD: not measured (${r.lxd.note ?? 'unavailable'}).`, '');
  if (r.throughput.length) {
    lines.push('### Throughput: declined mknod, k containers at once', '',
      '| target | containers | calls/s | per-container p99 µs (best … worst) | worst p99 / 1-container p99 | CPU ms per 1000 (server + children) |',
      '|---|---|---|---|---|---|');
    for (const t of r.throughput) {
      const single = r.throughput.find((x) => x.target === t.target && x.containers === 1)?.worst_p99_us;
      const p99s = t.per_container.map((s) => s.p99_us);
      const bad = t.unexpected.length ? ` (not served as expected: ${t.unexpected.join(', ')})` : '';
      lines.push(`| ${t.target} | ${t.containers} | ${t.calls_per_s}${bad} | ${f1(Math.min(...p99s))} … ${f1(Math.max(...p99s))} | ` +
        `${single ? (t.worst_p99_us / single).toFixed(2) : '—'} | ${t.cpu_ms_per_1000 ? `${f1(t.cpu_ms_per_1000.main)} + ${f1(t.cpu_ms_per_1000.children)}` : '—'} |`);
    }
    lines.push('');
  }
  if (r.footprint) {
    const fp = r.footprint;
    lines.push('### Footprint', '',
      `Ready to serve (spawn → first liblxc request answered): median ${f1(fp.ready_median_ms)} ms, max ${f1(fp.ready_max_ms)} ms over ${fp.ready_ms.length} starts. ` +
      `RSS idle ${fp.rss_idle_mb} MB; with ${fp.peers_connected} connected fake monitors (${fp.peer_replies} requests answered) ${fp.rss_with_peers_mb} MB; ` +
      `after they left ${fp.rss_after_peers_left_mb} MB.`, '');
  }
  if (Object.keys(r.daemon).length) lines.push(`Daemon during the run: ${Object.entries(r.daemon).map(([k, v]) => `${k} ${String(v)}`).join(', ')}.`, '');
  lines.push('### Targets (issue 6)', '', '| target | goal | measured | met |', '|---|---|---|---|');
  for (const t of r.targets) lines.push(`| ${t.target} | ${t.goal} | ${t.measured} | ${t.met === 'n/a' ? 'n/a' : t.met ? 'met' : '**missed**'} |`);
  if (r.notes.length) lines.push('', ...r.notes.map((n) => `- ${n}`));
  return `${lines.join('\n')}\n`;
}

export function writeReport(dir: string, r: Report): { json: string; md: string } {
  fs.mkdirSync(dir, { recursive: true });
  const stamp = r.machine.date.replace(/[:]/g, '').replace(/\.\d+Z$/, 'Z');
  const base = path.join(dir, `${stamp}-${r.machine.hostname}`);
  fs.writeFileSync(`${base}.json`, `${JSON.stringify(r, null, 2)}\n`);
  fs.writeFileSync(`${base}.md`, markdown(r));
  return { json: `${base}.json`, md: `${base}.md` };
}
