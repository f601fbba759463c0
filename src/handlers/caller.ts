// Facts about the calling task that several handlers need: its credentials for the
// helper, whether it lives in the container's own user namespace, its ids inside.

import fs from 'node:fs';
import { parseIdMap, toInside } from '../../protocol/idmap.js';
import type { CallerCreds } from '../../protocol/helper-wire.js';
import type { TaskStatus } from '../../protocol/proc-status.js';
import { namespaceOf, procPath } from '../../native/process.js';
import type { Request } from './types.js';

/** The helper acts with these: the caller's fs ids, groups and umask, and `caps`. */
export function callerCreds(req: Request, status: TaskStatus, caps: bigint): CallerCreds {
  return {
    tid: req.target.pid,
    umask: status.umask >= 0 ? status.umask : 0o022,
    fsuid: status.fsuid,
    fsgid: status.fsgid,
    caps,
    groups: status.groups,
  };
}

/** True when the caller is in the user namespace of the container's init (not a nested one). */
export function inContainerUserns(req: Request): boolean {
  const callerNs = namespaceOf(procPath(req.target.procFd, ''), 'user');
  const initNs = req.container.initPid > 0 ? namespaceOf(`/proc/${req.container.initPid}`, 'user') : undefined;
  return callerNs !== undefined && callerNs === initNs;
}

/** The caller's effective uid and gid as its own namespace sees them. */
export function idsInside(req: Request, status: TaskStatus): { uid?: number; gid?: number } {
  try {
    const uidMap = parseIdMap(fs.readFileSync(procPath(req.target.procFd, 'uid_map'), 'latin1'));
    const gidMap = parseIdMap(fs.readFileSync(procPath(req.target.procFd, 'gid_map'), 'latin1'));
    return { uid: toInside(uidMap, status.euid), gid: toInside(gidMap, status.egid) };
  } catch {
    return {};
  }
}
