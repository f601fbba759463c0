// Compiles the bench's C programs (floors and load generators) with the machine's gcc,
// into a build directory outside the repository. Rebuilt when the source is newer.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileStatic } from '../../integration/lib/gcc.js';

export const BENCH_ROOT = '/var/lib/interceptd-test/bench';
export const BUILD_DIR = path.join(BENCH_ROOT, 'build');

/** bench/ in the source tree, whether running from bench/lib or dist/bench/lib. */
const here = path.dirname(fileURLToPath(import.meta.url));
export const BENCH_SRC = here.includes(`${path.sep}dist${path.sep}`)
  ? path.resolve(here, '../../../bench')
  : path.resolve(here, '..');

export type Program = 'load/caller' | 'load/fake-monitors' | 'floor/lxc-responder' | 'floor/oci-supervisor';

export function build(program: Program): string {
  return compileStatic(path.join(BENCH_SRC, `${program}.c`), path.join(BUILD_DIR, path.basename(program)));
}
