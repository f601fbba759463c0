// Plain-text views of control replies for people; `--json` prints the reply itself.

type Counts = Record<string, number>;

export function renderStatus(r: Record<string, unknown>): string {
  const lines: string[] = [];
  lines.push(`interceptd ${String(r.version)}  pid ${String(r.pid)}  up ${String(r.uptimeS)} s  deadline ${String(r.deadlineMs)} ms`);
  const containers = (r.containers ?? []) as { source: string; name: string; pid: number }[];
  lines.push('', `containers (${containers.length}):`);
  for (const c of containers) lines.push(`  ${c.name.padEnd(24)} ${c.source.padEnd(7)} pid ${c.pid}`);
  const syscalls = (r.syscalls ?? {}) as Record<string, Counts>;
  lines.push('', `requests (${String(r.requests)}):`);
  lines.push(`  ${'syscall'.padEnd(20)} ${['emulated', 'errno', 'continue', 'failure', 'deadline'].map((h) => h.padStart(9)).join('')}`);
  for (const [name, c] of Object.entries(syscalls).sort()) {
    lines.push(`  ${name.padEnd(20)} ${['emulated', 'errno', 'continue', 'failure', 'deadline'].map((k) => String(c[k] ?? 0).padStart(9)).join('')}`);
  }
  const lat = (r.latencyUs ?? {}) as Counts;
  lines.push('', `latency of the last ${lat.samples ?? 0} requests (µs): p50 ${fmt(lat.p50)}  p90 ${fmt(lat.p90)}  p99 ${fmt(lat.p99)}  max ${fmt(lat.max)}`);
  const h = (r.helpers ?? {}) as Counts;
  lines.push(`helpers: ${h.running ?? 0} running, ${h.restarts ?? 0} restarts`);
  const lxd = r.lxd as { socket: string; following: boolean; containers: number } | undefined;
  if (lxd !== undefined) {
    lines.push(`lxd: ${lxd.socket}, ${lxd.following ? 'following its events' : 'event stream down (re-reading every second)'}, ${lxd.containers} container(s) known`);
  }
  return lines.join('\n');
}

function fmt(v: number | undefined): string {
  return v === undefined ? '-' : v < 10 ? v.toFixed(1) : String(Math.round(v));
}

export function renderReload(r: Record<string, unknown>): string {
  const p = (r.policies ?? {}) as { loaded?: number; errors?: { file: string; errors: string[] }[] };
  const s = (r.settings ?? {}) as { applied?: Record<string, unknown>; refused?: string[] };
  const lines = [`policies: ${p.loaded ?? 0} loaded`];
  for (const e of p.errors ?? []) lines.push(`  refused ${e.file}: ${e.errors.join('; ')} (the previous policy stays)`);
  if (s.refused !== undefined) lines.push(`settings refused: ${s.refused.join('; ')} (nothing changed)`);
  else lines.push(`settings: ${Object.keys(s.applied ?? {}).length === 0 ? 'none in the file' : JSON.stringify(s.applied)}`);
  return lines.join('\n');
}
