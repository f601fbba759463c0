// Compiles the bench's C programs (floors and load generators) with the machine's gcc,
// into a build directory outside the repository. Rebuilt when the source is newer.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_ROOT = '/var/lib/interceptd-test/bench';
export const BUILD_DIR = path.join(BENCH_ROOT, 'build');

/** bench/ in the source tree, whether running from bench/lib or dist/bench/lib. */
const here = path.dirname(fileURLToPath(import.meta.url));
export const BENCH_SRC = here.includes(`${path.sep}dist${path.sep}`)
  ? path.resolve(here, '../../../bench')
  : path.resolve(here, '..');

export type Program = 'load/caller' | 'load/fake-monitors' | 'floor/lxc-responder' | 'floor/oci-supervisor';

export function build(program: Program): string {
  const src = path.join(BENCH_SRC, `${program}.c`);
  const out = path.join(BUILD_DIR, path.basename(program));
  // The headers it includes with quotes (floor.h, the probes' errname.h) count as the source too.
  const headers = [...fs.readFileSync(src, 'utf8').matchAll(/^#include "([^"]+)"/gm)].map((m) => path.resolve(path.dirname(src), m[1]!));
  const newest = Math.max(...[src, ...headers].map((f) => fs.statSync(f).mtimeMs));
  if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= newest) return out;
  fs.mkdirSync(BUILD_DIR, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  const r = spawnSync('gcc', ['-O2', '-static', '-Wall', '-Wextra', '-o', tmp, src], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`gcc ${program} failed: ${r.error?.message ?? `${r.stdout}${r.stderr}`}`);
  }
  fs.renameSync(tmp, out);
  return out;
}
