// Unprivileged LXC containers for the bench (the integration harness's busybox
// containers), wired to interceptd or to the C floor through lxc.seccomp.notify.proxy.

import fs from 'node:fs';
import path from 'node:path';
import { createContainer, type Container } from '../integration/lib/lxc.js';
import { cli } from '../integration/lib/daemon.js';
import { BENCH_DIR, KEYS, XATTR_DIR, type BenchCase } from './cases.js';
import { BENCH_ROOT } from './lib/build.js';
import { benchMountEntry, benchTmpfs, releaseTmpfs, tmpfsDir } from './lib/tmpfs.js';
import { CALLER_PATH, callerArgv, parseCallerOutput, type CallerRun, type Target, type Window } from './target.js';

export const BENCH_LXCPATH = path.join(BENCH_ROOT, 'lxc');

export class LxcTarget implements Target {
  constructor(
    readonly label: string,
    readonly container: Container,
    /** The process answering this container's requests (interceptd or the floor). */
    readonly servingPid: number,
    private readonly accepts: (c: BenchCase) => boolean = () => true,
  ) {}

  supports(c: BenchCase): boolean {
    return this.accepts(c);
  }

  async run(c: BenchCase, warmup: number, n: number, window?: Window): Promise<CallerRun> {
    const r = await this.container.attachAsync(callerArgv(c, warmup, n, window), { timeoutMs: 180_000 });
    return parseCallerOutput(`LXC container ${this.container.name}`, r.status, r.stdout, r.stderr);
  }
}

/** `interceptd lxc-config NAME --set …` into the daemon's config dir; returns the three LXC lines. */
export function lxcConfig(name: string, daemon: { stateDir: string; configDir: string }): string[] {
  const r = cli(['lxc-config', name, '--state-dir', daemon.stateDir, '--config-dir', daemon.configDir, ...KEYS.flatMap((k) => ['--set', k])]);
  if (r.status !== 0) throw new Error(`lxc-config ${name} failed: ${r.stderr}`);
  return r.stdout.trim().split('\n');
}

/** The same lines, with the proxy pointed at another socket (the floor). */
export function withProxy(lines: readonly string[], socket: string): string[] {
  return lines.map((l) => (l.startsWith('lxc.seccomp.notify.proxy') ? `lxc.seccomp.notify.proxy = unix:${socket}` : l));
}

/** Stops and removes a bench container, keeping its lxc.log under BENCH_ROOT/logs. */
export function destroyBenchContainer(c: Container): void {
  try {
    fs.mkdirSync(path.join(BENCH_ROOT, 'logs'), { recursive: true });
    c.stop();
    fs.copyFileSync(c.logFile, path.join(BENCH_ROOT, 'logs', `${c.name}.log`));
  } catch {
    // no log to keep
  }
  c.destroy();
  releaseTmpfs(tmpfsDir(c.name));
}

/** A running container with the caller installed and its working directories made. */
export function startBenchContainer(name: string, lines: readonly string[], caller: string): Container {
  fs.mkdirSync(BENCH_LXCPATH, { recursive: true });
  const c = createContainer({ name, lxcpath: BENCH_LXCPATH, config: [...lines, benchMountEntry(benchTmpfs(name)), 'lxc.log.level = WARN'] });
  c.start();
  c.copyIn(caller, CALLER_PATH);
  // lxc-attach on a loaded machine now and then fails without a word: try up to three times.
  let r = c.attach(['mkdir', '-p', BENCH_DIR, XATTR_DIR], { timeoutMs: 30_000 });
  for (let i = 1; i < 3 && r.status !== 0; i++) r = c.attach(['mkdir', '-p', BENCH_DIR, XATTR_DIR], { timeoutMs: 30_000 });
  if (r.status !== 0) throw new Error(`mkdir in ${name} failed (status ${r.status}): ${r.stderr}\n${c.logTail(10)}`);
  return c;
}
