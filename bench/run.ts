// `npm run bench [-- --vs-lxd] [--quick] [--rounds N] [--per-round N] [--no-oci]
// [--no-throughput] [--no-footprint] [--cpu-prof] [--cases ID,…] [--peers N]`
//
// Everything runs on this machine, in one process, alternating: interceptd and the C
// floors (and LXD with --vs-lxd) serve the same static caller in identical
// containers, round after round, so that the machine's noise hits all of them alike.
// Results go to integration/bench/results/<date>-<host>.{json,md}.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { canRunContainers, type Container } from '../integration/lib/lxc.js';
import { REPO } from '../integration/lib/daemon.js';
import { CASES, FLOOR_ERRNO_RULES, caseById, type BenchCase } from './cases.js';
import { startDaemon, type BenchDaemon } from './daemon.js';
import { startFloor } from './floor.js';
import { measureFootprint, type FootprintResult } from './footprint.js';
import { compare, measureLatency, type LatencyResults, type RoundTarget } from './latency.js';
import { BENCH_ROOT, build } from './lib/build.js';
import { describeMachine } from './lib/machine.js';
import { treeUsage, usage } from './lib/proc.js';
import { summarize } from './lib/stats.js';
import { writeReport, markdown, type CaseReport, type Report, type TargetCheck } from './report.js';
import { insideSince, logMark } from './lib/inside.js';
import { benchTmpfs, releaseTmpfs, tmpfsDir } from './lib/tmpfs.js';
import { LxcTarget, destroyBenchContainer, lxcConfig, startBenchContainer, withProxy } from './target-lxc.js';
import { Lxd, launchLxdTarget } from './target-lxd.js';
import { OciTarget, Runc, createBundle } from './target-oci.js';
import { parseCallerOutput } from './target.js';
import { measureThroughput, type ThroughputResult } from './throughput.js';

const { values: argv } = parseArgs({
  options: {
    'vs-lxd': { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    'per-round': { type: 'string' },
    'no-oci': { type: 'boolean', default: false },
    'no-throughput': { type: 'boolean', default: false },
    'no-footprint': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    peers: { type: 'string' },
    cases: { type: 'string' },
  },
});

// Many short rounds: the finer the alternation, the better the machine's drift cancels.
const ROUNDS = Number(argv.rounds ?? (argv.quick ? 2 : 10));
const PER_ROUND = Number(argv['per-round'] ?? (argv.quick ? 200 : 250));
const WARMUP = 50;
const PEERS = Number(argv.peers ?? 200);
const CONTAINER_COUNTS = argv.quick ? [1, 4] : [1, 4, 16];
/** --cases declined,mknod: only these (for profiling one path). */
const SELECTED = argv.cases ? CASES.filter((c) => argv.cases!.split(',').includes(c.id)) : CASES;
const RESULTS_DIR = path.join(REPO, 'integration', 'bench', 'results');
const STATE = '/run/interceptd-bench';

const log = (s: string): void => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}`);

const can = canRunContainers();
if (!can.ok) {
  console.error(`bench needs real containers: ${can.reason}`);
  process.exit(1);
}

/** Cleanups run last-in first-out, on success, failure or a signal. */
const cleanups: (() => void | Promise<void>)[] = [];
async function cleanup(): Promise<void> {
  while (cleanups.length) {
    try {
      await cleanups.pop()!();
    } catch (err) {
      log(`cleanup: ${(err as Error).message}`);
    }
  }
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

const notes: string[] = [];
const onInvalid = (what: string): void => {
  log(`not answered as expected: ${what}`);
  notes.push(`Repeated: ${what}.`);
};
const machine = describeMachine(REPO);
fs.mkdirSync(BENCH_ROOT, { recursive: true });
const caller = build('load/caller');

/** The caller run natively by host root, for scale. */
function hostNative(): Report['host_native'] {
  // On a tmpfs, as in the containers (lib/tmpfs.ts).
  const dir = benchTmpfs('host');
  fs.mkdirSync(path.join(dir, 'opaque'));
  const out: Report['host_native'] = {};
  for (const c of CASES) {
    if (c.id === 'declined' || c.id === 'denied-helper') continue; // root is allowed to: not the same call
    const arg = c.arg === undefined ? [] : [c.arg.replace('/tmp/bench', dir)];
    const r = spawnSync(caller, [c.caller, String(WARMUP), String(ROUNDS * PER_ROUND), ...arg], { encoding: 'utf8', maxBuffer: 1 << 26 });
    const run = parseCallerOutput('host', r.status, r.stdout, r.stderr);
    out[c.id] = { title: c.call, ...summarize(run.ns), err: run.err };
  }
  releaseTmpfs(dir);
  return out;
}

function caseReports(results: LatencyResults, cases: readonly BenchCase[], mine: string, others: readonly string[]): CaseReport[] {
  return cases.filter((c) => results.has(c.id)).map((c) => {
    const byTarget = results.get(c.id)!;
    const targets: CaseReport['targets'] = {};
    for (const [label, t] of byTarget) {
      const { rounds: _rounds, ...rest } = t;
      targets[label] = rest;
    }
    const ratios: CaseReport['ratios'] = {};
    for (const o of others) {
      const r = compare(results, c.id, mine, o);
      if (r) ratios[`${mine}/${o}`] = r;
    }
    return { id: c.id, title: c.title, kind: c.kind, targets, ratios };
  });
}

async function main(): Promise<Report> {
  const base = BENCH_ROOT;
  fs.rmSync(STATE, { recursive: true, force: true });
  fs.mkdirSync(STATE, { recursive: true, mode: 0o700 });
  cleanups.push(() => fs.rmSync(STATE, { recursive: true, force: true }));

  const profDir = path.join(base, 'cpu-prof');
  if (argv['cpu-prof']) fs.rmSync(profDir, { recursive: true, force: true });
  fs.rmSync(path.join(base, 'daemon.log'), { force: true });
  const daemon: BenchDaemon = await startDaemon({
    stateDir: path.join(STATE, 'interceptd'),
    configDir: path.join(base, 'etc'),
    logFile: path.join(base, 'daemon.log'),
    nodeArgs: argv['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', profDir] : [],
  });
  cleanups.push(() => daemon.stop());
  log(`interceptd ${daemon.pid} ready after ${daemon.readyMs.toFixed(1)} ms`);
  const floorSocket = path.join(STATE, 'floor.socket');
  const floor = await startFloor('lxc', floorSocket, FLOOR_ERRNO_RULES);
  cleanups.push(async () => void (await floor.stop()));

  // Containers: i<k> wired to interceptd, f<k> to the floor; each gets its own policy.
  const maxK = Math.max(...CONTAINER_COUNTS);
  const icd: Container[] = [];
  const flo: Container[] = [];
  const startPair = (k: number): void => {
    const ni = `icdb-i${k}`;
    const nf = `icdb-f${k}`;
    const ci = startBenchContainer(ni, lxcConfig(ni, daemon), caller);
    cleanups.push(() => destroyBenchContainer(ci));
    icd.push(ci);
    const cf = startBenchContainer(nf, withProxy(lxcConfig(nf, daemon), floorSocket), caller);
    cleanups.push(() => destroyBenchContainer(cf));
    flo.push(cf);
  };
  startPair(1);
  log('containers icdb-i1 (interceptd) and icdb-f1 (floor) running');

  const lxcTargets: RoundTarget[] = [
    new LxcTarget('interceptd', icd[0]!, daemon.pid),
    new LxcTarget('floor', flo[0]!, floor.pid, (c) => c.vsFloor),
  ];
  let lxdNote: string | undefined;
  if (argv['vs-lxd']) {
    try {
      const lxd = await Lxd.start(base, log);
      cleanups.push(() => {
        lxd.stop(log);
        releaseTmpfs(tmpfsDir('icdb-lxd'));
      });
      lxcTargets.push(launchLxdTarget(lxd, 'icdb-lxd', caller));
      log('LXD container icdb-lxd running');
    } catch (err) {
      lxdNote = (err as Error).message;
      log(`LXD unavailable: ${lxdNote}`);
    }
  }

  const settings = { rounds: ROUNDS, calls_per_round: PER_ROUND, warmup_per_run: WARMUP, fake_peers: PEERS, container_counts: CONTAINER_COUNTS.join('/') };
  const rssStart = usage(daemon.pid)?.rss_kb ?? 0;
  const cpuStart = treeUsage(daemon.pid);
  const auditMark = logMark(daemon.logFile);
  const latency = await measureLatency(lxcTargets, SELECTED, { rounds: ROUNDS, perRound: PER_ROUND, warmup: WARMUP, log, onInvalid });
  const lxcOthers = lxcTargets.slice(1).map((t) => t.label);
  const lxc = caseReports(latency, SELECTED, 'interceptd', lxcOthers);
  const rssAfterLatency = usage(daemon.pid)?.rss_kb ?? 0;
  // The log is written in batches: give the last one time to land.
  await new Promise((r) => setTimeout(r, 200));
  const inside = insideSince(daemon.logFile, auditMark);
  const cpuAfterLatency = treeUsage(daemon.pid);
  // Every call the daemon served in the latency phase: measured, warm-ups, and round 0.
  const latencyCalls = SELECTED.filter((c) => c.kind !== 'baseline').reduce((s) => s + ROUNDS * (PER_ROUND + WARMUP) + Math.max(50, Math.floor(PER_ROUND / 4)) + WARMUP, 0);

  const throughput: ThroughputResult[] = [];
  if (!argv['no-throughput']) {
    for (let k = 2; k <= maxK; k++) startPair(k);
    log(`${maxK} + ${maxK} containers running`);
    const declined = caseById('declined');
    for (const [i, k] of CONTAINER_COUNTS.entries()) {
      const sets = [
        { label: 'interceptd', cs: icd, pid: daemon.pid },
        { label: 'floor', cs: flo, pid: floor.pid },
      ];
      for (const s of i % 2 === 0 ? sets : sets.reverse()) {
        const targets = s.cs.slice(0, k).map((c) => new LxcTarget(s.label, c, s.pid));
        // A run where some container was not served (see throughput.ts) is repeated, at most twice.
        let r = await measureThroughput(s.label, targets, declined, { windowMs: 3000, leadMs: 1000 + 150 * k, warmup: 200, servingPid: s.pid });
        for (let retry = 1; retry <= 2 && r.unexpected.length > 0; retry++) {
          onInvalid(`throughput ${s.label} ×${k}: ${r.unexpected.join(', ')}`);
          r = await measureThroughput(s.label, targets, declined, { windowMs: 3000, leadMs: 1000 + 150 * k, warmup: 200, servingPid: s.pid });
        }
        throughput.push(r);
        log(`throughput ${s.label} ×${k}: ${r.calls_per_s} calls/s, worst p99 ${r.worst_p99_us} µs` +
          (r.unexpected.length ? `; NOT SERVED AS EXPECTED: ${r.unexpected.join(', ')}` : ''));
        if (r.unexpected.length) notes.push(`throughput ${s.label} ×${k}: still not served as expected after 2 repeats: ${r.unexpected.join(', ')}`);
      }
    }
  }
  const rssEnd = usage(daemon.pid)?.rss_kb ?? 0;

  let ociCases: CaseReport[] = [];
  let ociNote: string | undefined;
  if (!argv['no-oci']) {
    try {
      ociCases = await measureOci(daemon, caller);
    } catch (err) {
      ociNote = (err as Error).message;
      log(`OCI not measured: ${ociNote}`);
    }
  } else ociNote = 'skipped (--no-oci)';

  let footprint: FootprintResult | undefined;
  if (!argv['no-footprint']) footprint = await measureFootprint(base, { starts: 5, peers: PEERS, log });

  log('host native');
  const host = hostNative();
  const cpuMs = (a: typeof cpuStart, b: typeof cpuStart, pick: (u: NonNullable<typeof cpuStart>) => number): number =>
    a && b ? Math.round(((pick(b) - pick(a)) / latencyCalls) * 100) / 100 : Number.NaN;
  const daemonInfo = {
    'ready ms (this start)': Math.round(daemon.readyMs * 10) / 10,
    'latency-phase notifications': latencyCalls,
    'CPU ms per 1000 notifications, all latency cases pooled (node / helpers)':
      `${cpuMs(cpuStart, cpuAfterLatency, (u) => u.main.cpu_us)} / ${cpuMs(cpuStart, cpuAfterLatency, (u) => u.children_cpu_us)}`,
    'RSS MB before latency → after latency → after throughput': `${(rssStart / 1024).toFixed(1)} → ${(rssAfterLatency / 1024).toFixed(1)} → ${(rssEnd / 1024).toFixed(1)}`,
    'RSS change KB per 1000 notifications (latency phase)': Math.round(((rssAfterLatency - rssStart) / latencyCalls) * 1000 * 10) / 10,
    'real containers connected at the end': icd.length,
  };
  if (argv['cpu-prof']) notes.push(`CPU profile of the daemon: ${profDir} (written when it exits).`);
  return {
    machine,
    settings,
    lxc,
    host_native: host,
    oci: { available: ociCases.length > 0, ...(ociNote ? { note: ociNote } : {}), cases: ociCases },
    lxd: { requested: argv['vs-lxd']!, ...(argv['vs-lxd'] ? { available: lxdNote === undefined } : {}), ...(lxdNote ? { note: lxdNote } : {}) },
    throughput,
    daemon: daemonInfo,
    inside,
    ...(footprint ? { footprint } : {}),
    targets: [],
    notes,
  };
}

/** interceptd's OCI path (oci.socket) against the C supervisor, in two runc containers. */
async function measureOci(daemon: BenchDaemon, callerBin: string): Promise<CaseReport[]> {
  if (spawnSync('runc', ['--version']).status !== 0) throw new Error('runc not installed');
  if (!fs.existsSync(path.join(daemon.stateDir, 'oci.socket'))) throw new Error('interceptd serve does not listen on oci.socket');
  const supSocket = path.join(STATE, 'oci-supervisor.socket');
  const sup = await startFloor('oci', supSocket, FLOOR_ERRNO_RULES);
  cleanups.push(async () => void (await sup.stop()));
  const runc = new Runc(path.join(STATE, 'runc'));
  const dir = path.join(BENCH_ROOT, 'oci');
  const ids = { icd: 'icdb-oci-i', sup: 'icdb-oci-s' };
  for (const id of Object.values(ids)) runc.destroy(id);
  runc.start(ids.icd, createBundle(path.join(dir, ids.icd), ids.icd, daemon.stateDir, callerBin), path.join(dir, `${ids.icd}.log`));
  cleanups.push(() => runc.destroy(ids.icd));
  runc.start(ids.sup, createBundle(path.join(dir, ids.sup), ids.sup, daemon.stateDir, callerBin, supSocket), path.join(dir, `${ids.sup}.log`));
  cleanups.push(() => runc.destroy(ids.sup));
  log('runc containers running');
  const cases = SELECTED.filter((c) => ['baseline', 'declined', 'denied', 'mknod', 'sysinfo'].includes(c.id));
  const targets: RoundTarget[] = [
    new OciTarget('interceptd', runc, ids.icd, daemon.pid),
    new OciTarget('supervisor', runc, ids.sup, sup.pid, (c) => c.vsFloor),
  ];
  const results = await measureLatency(targets, cases, { rounds: ROUNDS, perRound: PER_ROUND, warmup: WARMUP, log: (s) => log(`OCI ${s}`), onInvalid });
  return caseReports(results, cases, 'interceptd', ['supervisor']);
}

function checks(r: Report): TargetCheck[] {
  const lxc = (id: string) => r.lxc.find((c) => c.id === id);
  const mk = lxc('mknod')?.targets.interceptd?.summary;
  const out: TargetCheck[] = [];
  const add = (target: string, goal: string, value: number | undefined, ok: (v: number) => boolean, fmt: (v: number) => string): void => {
    out.push({ target, goal, measured: value === undefined ? 'not measured' : fmt(value), met: value === undefined ? 'n/a' : ok(value) });
  };
  add('emulated mknod median', '≤ 200 µs', mk?.median_us, (v) => v <= 200, (v) => `${v} µs`);
  add('emulated mknod p99', '≤ 1000 µs', mk?.p99_us, (v) => v <= 1000, (v) => `${v} µs`);
  const vsLxd = lxc('mknod')?.ratios['interceptd/lxd']?.median;
  add('emulated mknod vs LXD', '≥ 40× faster', vsLxd === undefined ? undefined : 1 / vsLxd, (v) => v >= 40, (v) => `${v.toFixed(1)}× faster`);
  for (const id of ['declined', 'denied']) {
    const rr = lxc(id)?.ratios['interceptd/floor'];
    add(`${id} via liblxc vs C floor`, '≤ 1.3×', rr?.median, (v) => v <= 1.3, (v) => `${v.toFixed(2)}× (p99 ${rr?.p99.toFixed(2)}×, p10 ${rr?.p10.toFixed(2)}×)`);
  }
  for (const id of ['declined', 'denied']) {
    const rr = r.oci.cases.find((c) => c.id === id)?.ratios['interceptd/supervisor'];
    add(`OCI ${id} vs C supervisor`, '≤ 1.5×', rr?.median, (v) => v <= 1.5, (v) => `${v.toFixed(2)}× (p99 ${rr?.p99.toFixed(2)}×, p10 ${rr?.p10.toFixed(2)}×)`);
  }
  const single = r.throughput.find((t) => t.target === 'interceptd' && t.containers === 1)?.worst_p99_us;
  const many = r.throughput.filter((t) => t.target === 'interceptd').sort((a, b) => b.containers - a.containers)[0];
  add(`${many?.containers ?? 16} containers at once: worst p99 / 1-container p99`, '≤ 2×',
    single && many && many.containers > 1 && many.unexpected.length === 0 ? many.worst_p99_us / single : undefined, (v) => v <= 2, (v) => `${v.toFixed(2)}×`);
  const fp = r.footprint;
  add(`RSS with ${fp?.peers_connected ?? PEERS} connected containers`, '≤ 80 MB', fp?.rss_with_peers_mb, (v) => v <= 80, (v) => `${v} MB`);
  const firstReady = r.daemon['ready ms (this start)'] as number | undefined;
  const readyAll = [...(fp?.ready_ms ?? []), ...(firstReady === undefined ? [] : [firstReady])];
  add(`ready to serve after start (worst of ${readyAll.length})`, '≤ 300 ms', readyAll.length ? Math.max(...readyAll) : undefined, (v) => v <= 300,
    (v) => `${v} ms (first start ${firstReady ?? '—'} ms, median of restarts ${fp?.ready_median_ms ?? '—'} ms)`);
  return out;
}

let report: Report | undefined;
try {
  report = await main();
} finally {
  await cleanup();
}
report.targets.push(...checks(report));
report.notes.push(`Load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (at the start: ${report.machine.load_avg_at_start.join(' ')}); ` +
  'other work on the machine inflates absolute numbers, while the alternating ratios are meant to cancel it.');
const files = writeReport(RESULTS_DIR, report);
console.log(markdown(report));
log(`written ${path.relative(REPO, files.json)} and ${path.relative(REPO, files.md)}`);
