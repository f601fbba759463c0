// Each bench container's /tmp/bench is a host tmpfs bound in, so the file cases time
// the interceptor and not the root disk. On this VM's journal-less ext4, mknod itself
// grows to ~400 µs after a few thousand create/unlink pairs within a minute: ext4 skips
// inodes deleted in the last 60 s (recently_deleted) one inode-table read at a time.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BENCH_DIR } from '../cases.js';
import { BENCH_ROOT } from './build.js';

const FS_ROOT = path.join(BENCH_ROOT, 'fs');

export function tmpfsDir(name: string): string {
  return path.join(FS_ROOT, name);
}

function mounted(dir: string): boolean {
  return spawnSync('mountpoint', ['-q', dir]).status === 0;
}

/**
 * A fresh tmpfs (mode 1777, no nodev: device nodes made there work as on a root disk)
 * at BENCH_ROOT/fs/<name>; the caller unmounts it with releaseTmpfs.
 */
export function benchTmpfs(name: string): string {
  const dir = tmpfsDir(name);
  releaseTmpfs(dir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'mode=1777,size=64m', `icdb-${name}`, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount tmpfs on ${dir} failed: ${r.stderr}`);
  return dir;
}

export function releaseTmpfs(dir: string): void {
  while (mounted(dir)) {
    if (spawnSync('umount', ['-l', dir]).status !== 0) break;
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

/** The LXC line binding `dir` at the container's BENCH_DIR (relative: LXC resolves it in the rootfs). */
export function benchMountEntry(dir: string): string {
  return `lxc.mount.entry = ${dir} ${BENCH_DIR.slice(1)} none bind,create=dir 0 0`;
}
