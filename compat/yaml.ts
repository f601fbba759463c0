// The YAML library, loaded on first use: it costs ~50 ms of start-up, and a daemon may
// not read a YAML file until its first container arrives.

import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';

let lib: typeof Yaml | undefined;

export function yaml(): typeof Yaml {
  return (lib ??= createRequire(import.meta.url)('yaml') as typeof Yaml);
}
