// A real unprivileged LXC container wired to a real interceptd: the setup every
// scenario test shares. Also decides skip (no root/tools, outside CI) vs fail (in CI).

import path from 'node:path';
import fs from 'node:fs';
import type { Test } from 'tap';
import { buildProbe, canRunContainers, createContainer, DEFAULT_LXCPATH, TEST_ROOT, type AttachOptions, type AttachResult, type Container } from './lxc.js';
import { cli, freshDir, startDaemon, type DaemonHandle } from './daemon.js';

/** Returns false (after skipping or failing the test) when real containers cannot run here. */
export function requireContainers(t: Test): boolean {
  const can = canRunContainers();
  if (can.ok) return true;
  if (process.env.CI) t.fail(`real-container tests cannot run in CI: ${can.reason}`);
  else {
    t.comment(`real-container tests skipped: ${can.reason}`);
    t.skip(`real containers: ${can.reason}`, () => {});
  }
  return false;
}

const RC_MARK = 'interceptd-test-status=';
const RC_LINE = new RegExp(`^${RC_MARK}(\\d+)\\n?$`, 'm');

export interface ProbeResult {
  op: string;
  ret: number;
  errno: number;
  err: string;
  [k: string]: unknown;
}

export interface Scenario {
  readonly container: Container;
  readonly daemon: DaemonHandle;
  /** Runs the static probe inside the container and returns its last JSON line. */
  probe(args: string[], opts?: { uid?: number; gid?: number; cwd?: string }): ProbeResult;
  /**
   * Runs argv in the container, once more if lxc-attach ran it without its seccomp
   * listener (ENOSYS in the output, or lxc-attach failing after the command: see probe()).
   * Only for commands that may run twice.
   */
  run(argv: string[], opts?: AttachOptions): AttachResult;
  /** `interceptd lxc-config` for this container; throws on failure. */
  setPolicy(sets: string[]): string[];
  restartDaemon(): Promise<void>;
  teardown(): Promise<void>;
}

export interface ScenarioOptions {
  /** Extra LXC config lines. */
  readonly config?: string[];
  /** Extra `interceptd serve` arguments. */
  readonly daemonArgs?: string[];
  readonly nodeArgs?: string[];
  /** The daemon's entry point: CLI (default) or BUNDLE. */
  readonly cli?: string;
}

export async function startScenario(name: string, sets: string[], opts: ScenarioOptions = {}): Promise<Scenario> {
  const base = path.join(TEST_ROOT, 'scenarios', name);
  const stateDir = freshDir(`/run/interceptd-test/${name}`);
  const configDir = freshDir(path.join(base, 'etc'));
  const setPolicy = (s: string[]): string[] => {
    const r = cli(['lxc-config', name, '--state-dir', stateDir, '--config-dir', configDir, ...s.flatMap((x) => ['--set', x])]);
    if (r.status !== 0) throw new Error(`lxc-config failed: ${r.stderr}`);
    return r.stdout.trim().split('\n');
  };
  const lines = setPolicy(sets);
  let daemon = await startDaemon({ stateDir, configDir, args: opts.daemonArgs, nodeArgs: opts.nodeArgs, cli: opts.cli });
  const container = createContainer({ name, lxcpath: DEFAULT_LXCPATH, config: [...lines, ...(opts.config ?? [])] });
  try {
    container.start();
  } catch (err) {
    await daemon.stop();
    throw err;
  }
  const probeBin = buildProbe(path.join(TEST_ROOT, 'bin'));
  container.copyIn(probeBin, '/bin/probe');
  return {
    container,
    get daemon() {
      return daemon;
    },
    probe(args, opts = {}) {
      for (let attempt = 1; ; attempt++) {
        const r = container.attach(['/bin/probe', ...args], { ...opts, timeoutMs: 30_000 });
        const last = r.stdout.trim().split('\n').pop() ?? '';
        let result: ProbeResult;
        try {
          result = JSON.parse(last) as ProbeResult;
        } catch {
          throw new Error(`probe ${args.join(' ')} printed no result (status ${r.status}): ${r.stdout}${r.stderr}`);
        }
        // Under load liblxc 5.0.2 sometimes fails to hand a new attach's seccomp listener to
        // its monitor: lxc-attach exits 1 after the program ran, and every notify rule got
        // ENOSYS from the kernel (nothing reached interceptd). Such a run says nothing
        // about interceptd: run it once more, and say so.
        if (r.status === 1 && result.err === 'ENOSYS' && attempt === 1) {
          process.stderr.write(`# probe ${args.join(' ')}: lxc-attach ran without a seccomp listener; retrying once\n`);
          continue;
        }
        return result;
      }
    },
    run(argv, opts = {}) {
      const once = (): { r: AttachResult; lost: boolean } => {
        // The command's own status, printed after it: when liblxc loses the listener it fails
        // the attach after the command ran, and lxc-attach exits 1 whatever the command did.
        const r = container.attach(['/bin/sh', '-c', `"$@"; s=$?; echo "${RC_MARK}$s" >&2; exit $s`, 'sh', ...argv], { timeoutMs: 30_000, ...opts });
        const m = RC_LINE.exec(r.stderr);
        const stderr = m ? r.stderr.slice(0, m.index) : r.stderr;
        const status = m ? Number(m[1]) : r.status;
        const lost = (m !== null && r.status !== status) || (status === 1 && /ENOSYS|Function not implemented/.test(r.stdout + stderr));
        return { r: { ...r, stderr, status }, lost };
      };
      const first = once();
      if (!first.lost) return first.r;
      process.stderr.write(`# ${argv.join(' ')}: lxc-attach ran without a seccomp listener; retrying once\n`);
      return once().r;
    },
    setPolicy,
    async restartDaemon() {
      await daemon.stop();
      daemon = await startDaemon({ stateDir, configDir, args: opts.daemonArgs, nodeArgs: opts.nodeArgs, cli: opts.cli });
    },
    async teardown() {
      try {
        container.destroy();
      } finally {
        await daemon.stop();
        fs.rmSync(stateDir, { recursive: true, force: true });
      }
    },
  };
}
