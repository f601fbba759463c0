// A cgroup's memory figures, v1 or v2, with the limits of every ancestor (as lxcfs
// does): a container cannot use more than the strictest limit above it.

import path from 'node:path';
import { parseCgroupLimit, parseCgroupValue, parseFlatKeyed, type Limit } from '../../protocol/cgroup.js';
import { parsed, readFile, readIfPresent, required } from './files.js';
import { pathUp, type CgroupDir } from './locate.js';

export interface MemoryFigures {
  /** The smallest memory limit from the cgroup up to its hierarchy's root. */
  readonly limit: Limit;
  /** Bytes charged to the cgroup (memory.current, v1 memory.usage_in_bytes). */
  readonly usage: bigint;
  /** `shmem` of memory.stat (v1 `total_shmem`). */
  readonly shmem: bigint;
  /** `file` of memory.stat (v1 `total_cache`). */
  readonly file: bigint;
  /** Undefined when swap is not accounted (no swap files). */
  readonly swap: { readonly limit: Limit; readonly usage: bigint } | undefined;
}

interface Files {
  readonly limit: string;
  readonly usage: string;
  readonly shmem: string;
  readonly file: string;
  /** v2: the swap limit itself; v1: memory + swap, from which the memory limit is taken off. */
  readonly swapLimit: string;
  readonly swapUsage: string;
}

const V1: Files = {
  limit: 'memory.limit_in_bytes',
  usage: 'memory.usage_in_bytes',
  shmem: 'total_shmem',
  file: 'total_cache',
  swapLimit: 'memory.memsw.limit_in_bytes',
  swapUsage: 'memory.memsw.usage_in_bytes',
};

const V2: Files = {
  limit: 'memory.max',
  usage: 'memory.current',
  shmem: 'shmem',
  file: 'file',
  swapLimit: 'memory.swap.max',
  swapUsage: 'memory.swap.current',
};

export function minLimit(a: Limit, b: Limit): Limit {
  if (a === 'max') return b;
  if (b === 'max') return a;
  return a < b ? a : b;
}

export function saturatingSub(a: bigint, b: bigint): bigint {
  return a > b ? a - b : 0n;
}

/**
 * v1 says "no limit" with PAGE_COUNTER_MAX pages (9223372036854771712 with 4 KiB pages);
 * anything from 4 EiB up is read as no limit.
 */
const NO_LIMIT_FROM = 1n << 62n;

/** The smallest limit in `name` over `dirs`; levels without the file (the root) have none. */
function strictestLimit(dirs: readonly string[], name: string): Limit {
  let limit: Limit = 'max';
  for (const dir of dirs) {
    const file = path.join(dir, name);
    const text = readIfPresent(file);
    if (text === undefined) continue;
    const v = parsed(file, text, parseCgroupLimit);
    limit = minLimit(limit, v !== 'max' && v >= NO_LIMIT_FROM ? 'max' : v);
  }
  return limit;
}

function value(dir: string, name: string): bigint {
  const file = path.join(dir, name);
  return parsed(file, readFile(file), parseCgroupValue);
}

/** Throws CgroupReadError when a file is unreadable or malformed. */
export function readMemory(cg: CgroupDir): MemoryFigures {
  const f = cg.version === 1 ? V1 : V2;
  const dirs = pathUp(cg);
  const limit = strictestLimit(dirs, f.limit);
  const usage = value(cg.dir, f.usage);
  const statFile = path.join(cg.dir, 'memory.stat');
  const stat = parseFlatKeyed(readFile(statFile));
  const shmem = required(statFile, stat.get(f.shmem));
  const file = required(statFile, stat.get(f.file));
  return { limit, usage, shmem, file, swap: readSwap(cg, f, dirs, limit, usage) };
}

function readSwap(cg: CgroupDir, f: Files, dirs: readonly string[], memLimit: Limit, memUsage: bigint): MemoryFigures['swap'] {
  const usageFile = path.join(cg.dir, f.swapUsage);
  const usageText = readIfPresent(usageFile);
  if (usageText === undefined) return undefined;
  const swapUsage = parsed(usageFile, usageText, parseCgroupValue);
  const swapLimit = strictestLimit(dirs, f.swapLimit);
  if (cg.version === 2) return { limit: swapLimit, usage: swapUsage };
  // v1 counts memory + swap together.
  return {
    limit: swapLimit === 'max' ? 'max' : memLimit === 'max' ? 0n : saturatingSub(swapLimit, memLimit),
    usage: saturatingSub(swapUsage, memUsage),
  };
}
