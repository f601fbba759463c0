// Where the package is installed: the nearest directory above this file holding a
// package.json. The same answer from the sources, from dist/, and from a bundle.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  const start = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = start; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
  }
  return start;
}

export const PACKAGE_ROOT = findRoot();

/** The directory of the C helper and keeper binaries (built by `npm install`). */
export const NATIVE_BIN_DIR = path.join(PACKAGE_ROOT, 'native', 'helper');
