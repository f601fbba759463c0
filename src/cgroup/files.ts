// Reading cgroup files: every failure is a failure, except a file that is simply absent
// where absence has a meaning (no limit at this level, no swap accounting).

import fs from 'node:fs';

/** Any cgroup or /proc file that is missing, unreadable or malformed. */
export class CgroupReadError extends Error {
  readonly code = 'ICD_CGROUP_READ';
  constructor(message: string) {
    super(message);
    this.name = 'CgroupReadError';
  }
}

const shared = Buffer.alloc(16384);

/**
 * A small file's text, read into a shared buffer: readFileSync's fstat and allocations
 * cost more than the read itself on the per-request path. Larger files fall back.
 */
function readSmall(file: string): string {
  const fd = fs.openSync(file, 'r');
  try {
    let n = 0;
    for (let got = -1; got !== 0 && n < shared.length; n += got) got = fs.readSync(fd, shared, n, shared.length - n, null);
    return n < shared.length ? shared.toString('latin1', 0, n) : fs.readFileSync(file, 'latin1');
  } finally {
    fs.closeSync(fd);
  }
}

function failure(file: string, err: unknown): CgroupReadError {
  return new CgroupReadError(`${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
}

/** The file's text; throws CgroupReadError on any error. */
export function readFile(file: string): string {
  try {
    return readSmall(file);
  } catch (err) {
    throw failure(file, err);
  }
}

/** The file's text, or undefined if it does not exist; throws CgroupReadError otherwise. */
export function readIfPresent(file: string): string | undefined {
  try {
    return readSmall(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw failure(file, err);
  }
}

/** A value that must be there; a missing or malformed one is a read failure too. */
export function required<T>(file: string, v: T | undefined): T {
  if (v === undefined) throw new CgroupReadError(`${file}: unexpected content`);
  return v;
}

/** Parses with `parse`; an unparsable text is a read failure. */
export function parsed<T>(file: string, text: string, parse: (text: string) => T | undefined): T {
  return required(file, parse(text));
}
