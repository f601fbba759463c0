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
 * Open fds of cgroup and /proc files, re-read with pread at offset 0: kernfs and procfs
 * regenerate the text on every read, and open+close cost more than the read on this
 * path. An fd of a cgroup or process that went away fails its read and is reopened.
 */
const open = new Map<string, number>();
const MAX_OPEN = 512;

function cachedFd(file: string): number {
  let fd = open.get(file);
  if (fd === undefined) {
    fd = fs.openSync(file, 'r');
    if (open.size >= MAX_OPEN) {
      const [oldest, oldFd] = open.entries().next().value as [string, number];
      open.delete(oldest);
      fs.closeSync(oldFd);
    }
    open.set(file, fd);
  }
  return fd;
}

function forget(file: string): void {
  const fd = open.get(file);
  if (fd === undefined) return;
  open.delete(file);
  try {
    fs.closeSync(fd);
  } catch {
    // already closed
  }
}

/**
 * A read shorter than asked is the end: seq_file (kernfs, procfs) hands over everything
 * it has up to the size asked, keeping any rest for the next read, and so does a regular
 * file. One pread per file, not a second one that returns 0.
 */
function preadAll(fd: number, file: string): string {
  let n = 0;
  for (;;) {
    const want = shared.length - n;
    if (want === 0) return fs.readFileSync(file, 'latin1');
    const got = fs.readSync(fd, shared, n, want, n);
    n += got;
    if (got < want) return shared.toString('latin1', 0, n);
  }
}

/** A small file's text. One retry with a fresh fd covers a stale cached one. */
function readSmall(file: string): string {
  try {
    return preadAll(cachedFd(file), file);
  } catch (err) {
    forget(file);
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw err;
    return preadAll(cachedFd(file), file);
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
