// Where a task's controller lives: a v1 hierarchy under /sys/fs/cgroup/<controller>, or
// the cgroup2 hierarchy at /sys/fs/cgroup (pure v2) or /sys/fs/cgroup/unified (hybrid).
// A controller is taken from the hierarchy where its files actually exist. `root` is the
// filesystem root ('/' in the daemon, a fixture tree in tests).

import fs from 'node:fs';
import path from 'node:path';
import type { ProcCgroups } from '../../protocol/cgroup.js';

export type Controller = 'memory' | 'pids';

export interface CgroupDir {
  readonly version: 1 | 2;
  /** The hierarchy's mount point: the top of the walk up the tree. */
  readonly mount: string;
  /** The task's cgroup directory, at or below `mount`. */
  readonly dir: string;
}

/** A file that exists in a cgroup directory exactly when the controller is active there. */
const MARKER: Readonly<Record<Controller, { readonly v1: string; readonly v2: string }>> = {
  memory: { v1: 'memory.usage_in_bytes', v2: 'memory.current' },
  pids: { v1: 'pids.current', v2: 'pids.current' },
};

/** The cgroup2 mount below `root`, if any. */
export function unifiedMount(root: string): string | undefined {
  const base = path.resolve(root, 'sys/fs/cgroup');
  for (const mount of [base, path.join(base, 'unified')]) {
    if (fs.existsSync(path.join(mount, 'cgroup.controllers'))) return mount;
  }
  return undefined;
}

/** An absolute cgroup path (already free of `..`) under a mount, without a trailing slash. */
function below(mount: string, cgroupPath: string): string {
  return path.resolve(mount, `.${cgroupPath}`);
}

// Where a cgroup path lives depends only on the host's mounts: remember what was found.
const located = new Map<string, CgroupDir>();

export function locateController(root: string, cgroups: ProcCgroups, controller: Controller): CgroupDir | undefined {
  const v1 = cgroups.v1.get(controller);
  const key = `${root}\0${controller}\0${v1?.hierarchy ?? ''}\0${v1?.path ?? ''}\0${cgroups.unified ?? ''}`;
  const hit = located.get(key);
  if (hit !== undefined) return hit;
  const found = find(root, cgroups, controller);
  if (found !== undefined) {
    if (located.size > 1024) located.clear();
    located.set(key, found);
  }
  return found;
}

function find(root: string, cgroups: ProcCgroups, controller: Controller): CgroupDir | undefined {
  const v1 = cgroups.v1.get(controller);
  if (v1 !== undefined) {
    const base = path.resolve(root, 'sys/fs/cgroup');
    // Co-mounted controllers live at /sys/fs/cgroup/<a,b>, usually with a <a> symlink.
    for (const name of new Set([v1.hierarchy, controller])) {
      if (name.includes('/')) continue;
      const mount = path.join(base, name);
      const dir = below(mount, v1.path);
      if (fs.existsSync(path.join(dir, MARKER[controller].v1))) return { version: 1, mount, dir };
    }
  }
  if (cgroups.unified !== undefined) {
    const mount = unifiedMount(root);
    if (mount === undefined) return undefined;
    const dir = below(mount, cgroups.unified);
    if (fs.existsSync(path.join(dir, MARKER[controller].v2))) return { version: 2, mount, dir };
  }
  return undefined;
}

/** `dir` and each ancestor up to and including `mount`, innermost first. */
export function pathUp(cg: CgroupDir): string[] {
  const out: string[] = [];
  for (let d = cg.dir; ; d = path.dirname(d)) {
    out.push(d);
    if (d === cg.mount || d.length <= cg.mount.length) return out;
  }
}
