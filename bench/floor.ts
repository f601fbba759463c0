// The C floors: lxc-responder (liblxc's proxy protocol) and oci-supervisor (owns the
// OCI listener). Both answer at once: CONTINUE, or an errno for the given syscalls.

import { spawn } from 'node:child_process';
import { build } from './lib/build.js';

export interface Floor {
  readonly pid: number;
  readonly socket: string;
  /** Stops it and returns how many requests it answered. */
  stop(): Promise<number>;
}

export async function startFloor(kind: 'lxc' | 'oci', socket: string, rules: readonly string[]): Promise<Floor> {
  const bin = build(kind === 'lxc' ? 'floor/lxc-responder' : 'floor/oci-supervisor');
  const child = spawn(bin, [socket, ...rules], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const started = Date.now();
  while (!out.includes('ready')) {
    if (child.exitCode !== null || Date.now() - started > 5000) {
      child.kill('SIGKILL');
      throw new Error(`${bin} did not start: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    pid: child.pid!,
    socket,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
      return Number(/served (\d+)/.exec(err)?.[1] ?? -1);
    },
  };
}
