// What a process costs, from /proc: CPU time (all threads) and resident memory.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

export interface Usage {
  /** utime + stime in microseconds (CLK_TCK resolution). */
  readonly cpu_us: number;
  /** cutime + cstime: children that exited and were reaped (LXD's per-call helpers). */
  readonly reaped_cpu_us: number;
  readonly rss_kb: number;
}

function stat(pid: number): string[] | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

export function usage(pid: number): Usage | undefined {
  const f = stat(pid);
  if (!f) return undefined;
  let rss = 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    rss = m ? Number(m[1]) : 0;
  } catch {
    return undefined;
  }
  // Fields after the comm: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
  return {
    cpu_us: ((Number(f[11]) + Number(f[12])) * 1e6) / CLK_TCK,
    reaped_cpu_us: ((Number(f[13]) + Number(f[14])) * 1e6) / CLK_TCK,
    rss_kb: rss,
  };
}

/** Pids whose parent is `ppid` (interceptd's helpers). */
export function children(ppid: number): number[] {
  return fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number).filter((p) => Number(stat(p)?.[1]) === ppid);
}

/** CPU of a process and its direct children (live or reaped), RSS of the process itself. */
export interface TreeUsage {
  readonly main: Usage;
  readonly children_cpu_us: number;
  readonly children_rss_kb: number;
}

export function treeUsage(pid: number): TreeUsage | undefined {
  const main = usage(pid);
  if (!main) return undefined;
  let cpu = main.reaped_cpu_us;
  let rss = 0;
  for (const c of children(pid)) {
    const u = usage(c);
    cpu += u?.cpu_us ?? 0;
    rss += u?.rss_kb ?? 0;
  }
  return { main, children_cpu_us: cpu, children_rss_kb: rss };
}
