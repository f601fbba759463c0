// bpf (lxd-behaviour.md §9): device-cgroup programs, what runc sets up for device
// rules. Loaded and attached by the daemon as host root; only programs of type
// CGROUP_DEVICE, only on the container's own cgroup subtree. cgroup2 combines device
// programs along the hierarchy, so a program attached inside can only restrict further.

import { match, P } from 'ts-pattern';
import { CONTINUE, OK, errno, inKernel, type Answer } from '../../protocol/answer.js';
import {
  BPF_CGROUP_DEVICE,
  BPF_F_REPLACE,
  BPF_PROG_ATTACH,
  BPF_PROG_DETACH,
  BPF_PROG_LOAD,
  BPF_PROG_TYPE_CGROUP_DEVICE,
  MAX_ATTR,
  MAX_INSNS,
  MAX_LICENSE,
  MAX_LOG,
  decodeProgAttach,
  decodeProgLoad,
  encodeProgAttach,
  encodeProgLoad,
  type ProgAttach,
  type ProgLoad,
} from '../../protocol/bpf-attr.js';
import { SECCOMP_ADDFD_FLAG_SEND } from '../../protocol/constants.js';
import { parseProcCgroup } from '../../protocol/cgroup.js';
import { argInt32, argLong, argUint32 } from '../../protocol/seccomp.js';
import type { Policy } from '../../compat/keys.js';
import { addressOf } from '../../native/libc.js';
import { bpf, cgroupWithin, isCgroup2Dir, pidfdGetfd } from '../../native/bpf.js';
import { O_CLOEXEC, notifAddFd, notifIdValid } from '../../native/seccomp.js';
import { pidfdOpen, readProcText } from '../../native/process.js';
import { CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN, hasCap, type TaskStatus } from '../../protocol/proc-status.js';
import { callerStatus, inContainerUserns, stillPending } from './caller.js';
import { closeFd } from '../../native/unix-socket.js';
import { unifiedMount } from '../cgroup/locate.js';
import { declined } from './decision.js';
import type { Handler, Request, Services } from './types.js';

export type Decision = { readonly kind: 'decline'; readonly reason: string } | { readonly kind: 'load' } | { readonly kind: 'attach' };
const decline = (reason: string): Decision => ({ kind: 'decline', reason });

// Patterns are built once: made per call, they cost more than the whole match.
const BAD_SIZE = P.when<number, (s: number) => boolean>((s) => s === 0 || s > MAX_ATTR);
const ATTACH_OR_DETACH = P.union(BPF_PROG_ATTACH, BPF_PROG_DETACH);

/** The rule on the registers: which command, is device-program interception on, a sane attr size. */
export function decideCommand(cmd: number, size: number, policy: Policy): Decision {
  return match({ on: policy.bpf && policy.bpfDevices, cmd, size })
    .with({ on: false }, () => decline('bpf device interception is off'))
    .with({ size: BAD_SIZE }, () => decline('attr size the kernel would refuse or too large'))
    .with({ cmd: BPF_PROG_LOAD }, () => ({ kind: 'load' }) as const)
    .with({ cmd: ATTACH_OR_DETACH }, () => ({ kind: 'attach' }) as const)
    .otherwise(() => decline('not a load, attach or detach'));
}

export function decideLoad(p: ProgLoad): Decision {
  if (p.progType !== BPF_PROG_TYPE_CGROUP_DEVICE) return decline(`program type ${p.progType} is not CGROUP_DEVICE`);
  if (p.insnCnt === 0 || p.insnCnt > MAX_INSNS) return decline('instruction count out of bounds');
  return { kind: 'load' };
}

/**
 * The rule on the caller: what the kernel asks of a privileged caller (CAP_BPF or
 * CAP_SYS_ADMIN to load, CAP_NET_ADMIN or CAP_SYS_ADMIN to attach), held in the
 * container's own user namespace. Without it a container user could fence devices
 * off from the container's root.
 */
export function decideCaller(status: TaskStatus, inContainerUserns: boolean, kind: 'load' | 'attach'): Decision | undefined {
  if (!inContainerUserns) return decline("caller is not in the container's user namespace");
  const other = kind === 'load' ? CAP_BPF : CAP_NET_ADMIN;
  if (!hasCap(status.capEff, CAP_SYS_ADMIN) && !hasCap(status.capEff, other)) {
    return decline(`caller lacks ${kind === 'load' ? 'CAP_BPF' : 'CAP_NET_ADMIN'} and CAP_SYS_ADMIN`);
  }
  return undefined;
}

export function decideAttach(a: ProgAttach): Decision {
  if (a.attachType !== BPF_CGROUP_DEVICE) return decline(`attach type ${a.attachType} is not BPF_CGROUP_DEVICE`);
  return { kind: 'attach' };
}


function handle(req: Request, services: Services): Answer {
  const { notif, target } = req;
  const cmd = argInt32(notif.args[0]!);
  const size = argUint32(notif.args[2]!);
  const rule = decideCommand(cmd, size, req.policy);
  if (rule.kind === 'decline') return declined(req, rule.reason);
  const caller = decideCaller(callerStatus(req), inContainerUserns(req), rule.kind);
  if (caller !== undefined && caller.kind === 'decline') return declined(req, caller.reason);
  const attr = target.memory.read(argLong(req.syscall.abi, notif.args[1]!), size);
  if (!attr.ok) return declined(req, `attr unreadable (errno ${attr.errno})`);
  return rule.kind === 'load' ? load(req, services, attr.bytes) : attach(req, cmd, attr.bytes);
}

let inUse: Buffer[] = [];

function load(req: Request, services: Services, attr: Buffer): Answer {
  const { notif, target } = req;
  const decoded = decodeProgLoad(attr);
  if (!decoded.ok) return declined(req, decoded.reason);
  const p = decoded.value;
  const rule = decideLoad(p);
  if (rule.kind === 'decline') return declined(req, rule.reason);
  const insns = target.memory.read(p.insns, p.insnCnt * 8);
  const license = target.memory.readString(p.license, MAX_LICENSE);
  if (!insns.ok || !license.ok) return declined(req, 'instructions or license unreadable');
  if (!stillPending(req)) return CONTINUE;

  const logSize = p.logLevel !== 0 && p.logBuf !== 0n ? Math.min(p.logSize, MAX_LOG) : 0;
  const log = Buffer.alloc(Math.max(logSize, 1));
  const lic = Buffer.concat([license.bytes, Buffer.alloc(1)]);
  // The kernel reads these through pointers in `ours`: held until bpf() returns, or the GC
  // could free one that is not used again before the call.
  inUse = [insns.bytes, lic, log];
  const ours = encodeProgLoad(p, addressOf(insns.bytes), addressOf(lic), addressOf(log), logSize);
  const fd = bpf(BPF_PROG_LOAD, ours);
  inUse = [];
  // The verifier's log goes back to the caller's buffer, as the kernel would write it.
  if (logSize > 0) {
    const end = log.indexOf(0);
    const text = log.subarray(0, end < 0 ? logSize : Math.min(end + 1, logSize));
    if (text.length > 0 && notifIdValid(target.listenerFd, notif.id)) target.memory.write(p.logBuf, text);
  }
  if (fd < 0) {
    audit(req, 'bpf program load', { errno: -fd, insns: p.insnCnt });
    return errno(-fd);
  }
  try {
    return install(req, services, fd, p.insnCnt);
  } finally {
    closeFd(fd);
  }
}

/** Puts the program fd into the caller: atomically with the answer where the kernel can. */
function install(req: Request, services: Services, fd: number, insnCnt: number): Answer {
  const { notif, target } = req;
  const send = services.kernel.addfdSend;
  let newFd: number;
  try {
    newFd = notifAddFd(target.listenerFd, notif.id, fd, send ? SECCOMP_ADDFD_FLAG_SEND : 0, O_CLOEXEC);
  } catch (err) {
    req.log.warn({ err }, 'cannot install the program fd in the caller');
    return CONTINUE;
  }
  audit(req, 'bpf program loaded', { fd: newFd, insns: insnCnt, atomic: send });
  return send ? inKernel(newFd) : { kind: 'value', value: BigInt(newFd) };
}

/** The container's cgroup2 directory on the host, from its init's /proc/<pid>/cgroup. */
function containerCgroup(initPid: number): string | undefined {
  const text = initPid > 0 ? readProcText(`/proc/${initPid}/cgroup`) : undefined;
  const cgroups = text === undefined ? undefined : parseProcCgroup(text);
  const mount = unifiedMount('/');
  return cgroups?.unified !== undefined && mount !== undefined ? `${mount}${cgroups.unified}` : undefined;
}

function attach(req: Request, cmd: number, attr: Buffer): Answer {
  const { notif, target } = req;
  const decoded = decodeProgAttach(attr);
  if (!decoded.ok) return declined(req, decoded.reason);
  const a = decoded.value;
  const rule = decideAttach(a);
  if (rule.kind === 'decline') return declined(req, rule.reason);
  const root = containerCgroup(req.container.initPid);
  if (root === undefined) return declined(req, "the container's cgroup2 directory is unknown");
  const fds: number[] = [];
  let pidfd = -1;
  try {
    pidfd = pidfdOpen(target.pid);
    // The pidfd names the caller only if the request is still pending after it was opened.
    if (target.listenerFd < 0 || !notifIdValid(target.listenerFd, notif.id)) return CONTINUE;
    const cg = pidfdGetfd(pidfd, a.targetFd);
    if (cg < 0) return declined(req, 'target_fd is not open in the caller');
    fds.push(cg);
    if (!isCgroup2Dir(cg) || !cgroupWithin(cg, root)) return declined(req, "target is not in the container's cgroup2 subtree");
    // A detach without a program fd detaches whatever is there, as in the kernel.
    const prog = pidfdGetfd(pidfd, a.attachBpfFd);
    if (prog >= 0) fds.push(prog);
    let replace = -1;
    if ((a.attachFlags & BPF_F_REPLACE) !== 0) {
      replace = pidfdGetfd(pidfd, a.replaceBpfFd);
      if (replace < 0) return declined(req, 'replace_bpf_fd is not open in the caller');
      fds.push(replace);
    }
    if (!notifIdValid(target.listenerFd, notif.id)) return CONTINUE;
    const r = bpf(cmd, encodeProgAttach({ ...a, targetFd: cg, attachBpfFd: prog, replaceBpfFd: replace < 0 ? 0 : replace }));
    audit(req, cmd === BPF_PROG_ATTACH ? 'bpf program attached' : 'bpf program detached', { flags: a.attachFlags, errno: r < 0 ? -r : 0 });
    return r < 0 ? errno(-r) : OK;
  } catch (err) {
    req.log.warn({ err }, 'bpf attach/detach failed');
    return CONTINUE;
  } finally {
    fds.forEach(closeFd);
    closeFd(pidfd);
  }
}

function audit(req: Request, msg: string, fields: object): void {
  req.audit(fields, msg);
}

export const bpfHandler: Handler = { syscalls: ['bpf'], handle };
