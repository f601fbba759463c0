// Facts about the calling task that several handlers need: its credentials for the
// helper, whether it lives in the container's own user namespace, its ids inside.

import { parseIdMap, toInside, type IdRange } from '../../protocol/idmap.js';
import type { CallerCreds } from '../../protocol/helper-wire.js';
import type { TaskStatus } from '../../protocol/proc-status.js';
import { AT_FDCWD } from '../../protocol/constants.js';
import { namespaceOf, readProcText, readTaskStatus } from '../../native/process.js';
import { notifIdValid } from '../../native/seccomp.js';
import { TargetGoneError } from './decision.js';
import type { ContainerRef, Request } from './types.js';

/**
 * The caller's credentials. Its memory is read by pid, which another process may have
 * taken since; the /proc fd still names the caller and is unreadable once it is gone.
 */
export function callerStatus(req: Request): TaskStatus {
  const status = readTaskStatus(req.target.procFd);
  if (status === undefined) throw new TargetGoneError('its /proc status is unreadable');
  return status;
}

/**
 * What was read is the caller's only while its request is still pending: call this
 * last before acting. False when it cannot be checked (the peer passed no listener fd).
 */
export function stillPending(req: Request): boolean {
  if (req.target.listenerFd < 0) return false;
  if (!notifIdValid(req.target.listenerFd, req.notif.id)) throw new TargetGoneError('the request is no longer pending');
  return true;
}

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

// The init's user namespace, per container object (one per liblxc connection and
// container init, or per OCI listener): read once, not on every request.
const initUserns = new WeakMap<ContainerRef, string>();

/** True when the caller is in the user namespace of the container's init (not a nested one). */
export function inContainerUserns(req: Request): boolean {
  const callerNs = namespaceOf(req.target.procFd, 'user');
  let initNs = initUserns.get(req.container);
  if (initNs === undefined && req.container.initPid > 0) {
    initNs = namespaceOf(AT_FDCWD, 'user', `/proc/${req.container.initPid}`);
    if (initNs !== undefined) initUserns.set(req.container, initNs);
  }
  return callerNs !== undefined && callerNs === initNs;
}

// The container's maps are written once and never change: cache them per container
// init (a caller outside the init's user namespace is never served, so nothing else is cached).
const mapCache = new Map<string, { uid: IdRange[]; gid: IdRange[] }>();

/** The container's uid and gid maps, if the caller is in the container's user namespace. */
export function containerMaps(req: Request): { uid: IdRange[]; gid: IdRange[] } | undefined {
  const ns = namespaceOf(req.target.procFd, 'user');
  if (ns === undefined || req.container.initPid <= 0) return undefined;
  const key = `${req.container.initPid}:${ns}`;
  let maps = mapCache.get(key);
  if (maps === undefined) {
    const uid = readProcText(`/proc/${req.container.initPid}/uid_map`);
    const gid = readProcText(`/proc/${req.container.initPid}/gid_map`);
    if (uid === undefined || gid === undefined) return undefined;
    if (namespaceOf(AT_FDCWD, 'user', `/proc/${req.container.initPid}`) !== ns) return undefined;
    maps = { uid: parseIdMap(uid), gid: parseIdMap(gid) };
    if (mapCache.size > 1024) mapCache.clear();
    mapCache.set(key, maps);
  }
  return maps;
}

/** The caller's effective uid and gid inside the container's user namespace (callers in it only). */
export function idsInside(req: Request, status: TaskStatus): { uid?: number; gid?: number } {
  const maps = containerMaps(req);
  return maps === undefined ? {} : { uid: toInside(maps.uid, status.euid), gid: toInside(maps.gid, status.egid) };
}
