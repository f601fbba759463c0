// Runs the real interceptd daemon (the built CLI) for a test, with its own
// state and config directories, and collects its JSON log lines.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { controlRequest } from '../../src/control.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, here.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..');
/** tsc's output: tests run it, so that coverage maps to the sources. */
export const CLI = path.join(REPO, 'dist', 'src', 'cli.js');
/** The one-file bundle of the same code that `bin` names (it starts faster): the demo, the bench and bundle.test run it. */
export const BUNDLE = path.join(REPO, 'dist', 'interceptd.js');

/** The Node.js flags of the CLI's shebang (`#!/usr/bin/env -S node FLAGS`): tests run the daemon as its bin does. */
export function cliNodeFlags(cli = CLI): string[] {
  const first = fs.readFileSync(cli, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\/usr\/bin\/env -S node(.*)$/.exec(first);
  return m ? m[1]!.trim().split(/\s+/).filter(Boolean) : [];
}

export interface DaemonHandle {
  readonly stateDir: string;
  readonly configDir: string;
  readonly socket: string;
  readonly child: ChildProcess;
  /** Parsed log lines so far. */
  readonly logs: Record<string, unknown>[];
  /** What it wrote to stderr so far. */
  readonly stderr: string;
  stop(): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** GET /metrics from a daemon's `--metrics-listen unix:PATH` endpoint. */
export function scrapeMetrics(socketPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath, path: '/metrics' }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

/** `interceptd ARGS…` run to completion (lxc-config, help). */
export function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export async function startDaemon(opts: {
  stateDir: string;
  configDir: string;
  args?: string[];
  /** Node.js options for the daemon process (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** CLI (default) or BUNDLE. */
  cli?: string;
}): Promise<DaemonHandle> {
  const socket = path.join(opts.stateDir, 'seccomp.socket');
  const cli = opts.cli ?? CLI;
  const child = spawn(
    process.execPath,
    [...cliNodeFlags(cli), ...(opts.nodeArgs ?? []), cli, 'serve', '--state-dir', opts.stateDir, '--config-dir', opts.configDir, '--log-level', 'debug', ...(opts.args ?? [])],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logs: Record<string, unknown>[] = [];
  let buffered = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const l of lines) {
      try {
        logs.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        logs.push({ msg: l });
      }
    }
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const started = Date.now();
  // Ready: its 'ready' line, or (at quieter log levels) its own pid on the control socket.
  const answersStatus = async (): Promise<boolean> => {
    try {
      const r = await controlRequest(opts.stateDir, { cmd: 'status' }, 500);
      return r.ok && r.pid === child.pid;
    } catch {
      return false;
    }
  };
  while (!logs.some((l) => l.msg === 'ready') && !(await answersStatus())) {
    if (child.exitCode !== null || Date.now() - started > 10_000) {
      child.kill('SIGKILL');
      throw new Error(`interceptd did not become ready: ${stderr}\n${JSON.stringify(logs.slice(-10))}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    stateDir: opts.stateDir,
    configDir: opts.configDir,
    socket,
    child,
    logs,
    get stderr() {
      return stderr;
    },
    stop: () => stopWith('SIGTERM'),
    kill: (signal = 'SIGKILL') => stopWith(signal),
  };
}

export function freshDir(dir: string): string {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
