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

// Facts about the container's init, per container object (one per liblxc connection and
// container init, or per OCI listener): read once, not on every request.
const initUserns = new WeakMap<ContainerRef, string>();
const initMaps = new WeakMap<ContainerRef, { uid: IdRange[]; gid: IdRange[] }>();

function initNamespace(container: ContainerRef): string | undefined {
  let ns = initUserns.get(container);
  if (ns === undefined && container.initPid > 0) {
    ns = namespaceOf(AT_FDCWD, 'user', `/proc/${container.initPid}`);
    if (ns !== undefined) initUserns.set(container, ns);
  }
  return ns;
}

/** True when the caller is in the user namespace of the container's init (not a nested one). */
export function inContainerUserns(req: Request): boolean {
  const callerNs = namespaceOf(req.target.procFd, 'user');
  return callerNs !== undefined && callerNs === initNamespace(req.container);
}

/**
 * The uid and gid maps of the container's init (written once, never changed). They are
 * the caller's own only if inContainerUserns(req) holds: check that first.
 */
export function containerMaps(container: ContainerRef): { uid: IdRange[]; gid: IdRange[] } | undefined {
  let maps = initMaps.get(container);
  if (maps === undefined) {
    const ns = initNamespace(container);
    if (ns === undefined) return undefined;
    const uid = readProcText(`/proc/${container.initPid}/uid_map`);
    const gid = readProcText(`/proc/${container.initPid}/gid_map`);
    // Still the same init (its pid was not reused while the maps were read).
    if (uid === undefined || gid === undefined || namespaceOf(AT_FDCWD, 'user', `/proc/${container.initPid}`) !== ns) return undefined;
    maps = { uid: parseIdMap(uid), gid: parseIdMap(gid) };
    initMaps.set(container, maps);
  }
  return maps;
}

/** The caller's effective uid and gid inside the container's user namespace (a caller in it only). */
export function idsInside(container: ContainerRef, status: TaskStatus): { uid?: number; gid?: number } {
  const maps = containerMaps(container);
  return maps === undefined ? {} : { uid: toInside(maps.uid, status.euid), gid: toInside(maps.gid, status.egid) };
}
