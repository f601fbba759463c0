// The number of tasks in a cgroup and its descendants (pids.current, v1 and v2 alike).

import path from 'node:path';
import { parseCgroupValue } from '../../protocol/cgroup.js';
import { parsed, readFile } from './files.js';
import type { CgroupDir } from './locate.js';

/** Throws CgroupReadError when pids.current is unreadable or malformed. */
export function readPids(cg: CgroupDir): bigint {
  const file = path.join(cg.dir, 'pids.current');
  return parsed(file, readFile(file), parseCgroupValue);
}
