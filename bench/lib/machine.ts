// The machine a run was made on, written next to its numbers.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

function firstLine(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? `${r.stdout}${r.stderr}`.trim().split('\n')[0] : undefined;
}

function dpkgVersion(pkg: string): string | undefined {
  return firstLine('dpkg-query', ['-W', '-f', '${Version}', pkg]);
}

export interface Machine {
  readonly date: string;
  readonly hostname: string;
  readonly cpus: number;
  readonly cpu_model: string;
  readonly memory_mb: number;
  readonly kernel: string;
  readonly os: string | undefined;
  readonly node: string;
  readonly load_avg_at_start: number[];
  readonly versions: Record<string, string | undefined>;
  readonly git: string | undefined;
}

export function describeMachine(repo: string): Machine {
  let osName: string | undefined;
  try {
    osName = /PRETTY_NAME="([^"]+)"/.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1];
  } catch {
    osName = undefined;
  }
  const pkg = JSON.parse(fs.readFileSync(`${repo}/package.json`, 'utf8')) as { version: string };
  const dirty = firstLine('git', ['-C', repo, 'status', '--porcelain']) !== undefined;
  const head = firstLine('git', ['-C', repo, 'rev-parse', '--short', 'HEAD']);
  return {
    date: new Date().toISOString(),
    hostname: os.hostname(),
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model ?? 'unknown',
    memory_mb: Math.round(os.totalmem() / 2 ** 20),
    kernel: os.release(),
    os: osName,
    node: process.version,
    load_avg_at_start: os.loadavg().map((l) => Math.round(l * 100) / 100),
    versions: {
      interceptd: pkg.version,
      lxc: dpkgVersion('liblxc1') ?? dpkgVersion('lxc'),
      lxd: dpkgVersion('lxd'),
      runc: dpkgVersion('runc'),
      crun: dpkgVersion('crun'),
      gcc: firstLine('gcc', ['-dumpfullversion']),
    },
    git: head === undefined ? undefined : `${head}${dirty ? '+dirty' : ''}`,
  };
}
