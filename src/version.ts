// The package version, from the package.json of the installed package (source, dist/ or bundle).

import fs from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../native/paths.js';

function findVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

export const VERSION = findVersion();
