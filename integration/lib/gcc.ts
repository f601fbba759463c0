// Static C programs for the tests and the bench (probes, floors, load generators), built
// with the machine's gcc when missing or older than their sources.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** The source and the headers it includes with quotes, wherever they are: the newest mtime. */
function newestSource(src: string): number {
  const headers = [...fs.readFileSync(src, 'utf8').matchAll(/^#include "([^"]+)"/gm)].map((m) => path.resolve(path.dirname(src), m[1]!));
  return Math.max(...[src, ...headers].map((f) => fs.statSync(f).mtimeMs));
}

/** Builds `out` from `src` (-O2 -static -Wall -Wextra plus `flags`) if stale; returns `out`. */
export function compileStatic(src: string, out: string, flags: readonly string[] = []): string {
  if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= newestSource(src)) return out;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  // Compile to a private name then rename: test files may build concurrently.
  const tmp = `${out}.tmp-${process.pid}`;
  const r = spawnSync('gcc', [...flags, '-O2', '-static', '-Wall', '-Wextra', '-o', tmp, src], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`gcc ${path.basename(out)} failed: ${r.error?.message ?? `${r.stdout}${r.stderr}`}`);
  }
  fs.renameSync(tmp, out);
  return out;
}
