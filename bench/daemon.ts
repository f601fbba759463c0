// interceptd as the bench runs it: the bundle that `bin` names, logs to a file (a pipe the bench
// does not drain would stall the daemon), and the time from spawn until it serves.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BUNDLE, cliNodeFlags } from '../integration/lib/daemon.js';
import { build } from './lib/build.js';

export interface BenchDaemon {
  readonly pid: number;
  readonly stateDir: string;
  readonly configDir: string;
  readonly socket: string;
  readonly logFile: string;
  /** From spawn until a liblxc request got its reply. */
  readonly readyMs: number;
  stop(): Promise<void>;
}

/** Runs `fake-monitors ready`: resolves with the CLOCK_MONOTONIC time of the first answered request. */
function pollReady(socket: string, timeoutMs: number): { child: ChildProcess; done: Promise<bigint> } {
  const child = spawn(build('load/fake-monitors'), ['ready', socket, String(timeoutMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const done = new Promise<bigint>((resolve, reject) => {
    child.on('close', () => {
      const m = /"ready_ns":(\d+)/.exec(out);
      if (m && m[1] !== '0') resolve(BigInt(m[1]!));
      else reject(new Error(`interceptd did not answer on ${socket} within ${timeoutMs} ms: ${out}`));
    });
  });
  return { child, done };
}

export async function startDaemon(opts: {
  stateDir: string;
  configDir: string;
  logFile: string;
  nodeArgs?: string[];
  cwd?: string;
}): Promise<BenchDaemon> {
  fs.mkdirSync(opts.stateDir, { recursive: true });
  fs.mkdirSync(opts.configDir, { recursive: true });
  const socket = path.join(opts.stateDir, 'seccomp.socket');
  fs.rmSync(socket, { force: true });
  const poll = pollReady(socket, 10_000);
  const log = fs.openSync(opts.logFile, 'a');
  const t0 = process.hrtime.bigint();
  const child = spawn(
    process.execPath,
    [...cliNodeFlags(BUNDLE), ...(opts.nodeArgs ?? []), BUNDLE, 'serve', '--state-dir', opts.stateDir, '--config-dir', opts.configDir, '--log-level', 'info'],
    { stdio: ['ignore', log, log], cwd: opts.cwd },
  );
  fs.closeSync(log);
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let readyNs: bigint;
  try {
    readyNs = await poll.done;
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`${(err as Error).message}\n${fs.readFileSync(opts.logFile, 'utf8').slice(-2000)}`);
  }
  return {
    pid: child.pid!,
    stateDir: opts.stateDir,
    configDir: opts.configDir,
    socket,
    logFile: opts.logFile,
    readyMs: Number(readyNs - t0) / 1e6,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
