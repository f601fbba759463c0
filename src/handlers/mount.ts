// mount (lxd-behaviour.md §8): a new mount of a filesystem type the policy allows,
// made with host privilege (idmapped to the container with `.shift`), or served by a
// FUSE program inside the container (`.fuse`). Everything else is the kernel's.

import { match, P } from 'ts-pattern';
import { CONTINUE, OK, errno, type Answer } from '../../protocol/answer.js';
import { PATH_MAX } from '../../protocol/constants.js';
import { MountMode } from '../../protocol/helper-wire.js';
import { toOutside } from '../../protocol/idmap.js';
import { hugetlbfsOptions, splitOptions, translateMountFlags } from '../../protocol/mount-flags.js';
import { CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_SYS_ADMIN, capBit, hasCap, type TaskStatus } from '../../protocol/proc-status.js';
import { argLong } from '../../protocol/seccomp.js';
import type { Abi } from '../../protocol/syscalls.js';
import type { Policy } from '../../compat/keys.js';
import { callerCreds, callerStatus, containerMaps, inContainerUserns, stillPending } from './caller.js';
import { declined } from './decision.js';
import type { Handler, Request, Services } from './types.js';

export interface MountArgs {
  readonly source: bigint;
  readonly target: bigint;
  readonly fstype: bigint;
  readonly flags: bigint;
  readonly data: bigint;
}

export function mountArgs(abi: Abi, args: readonly bigint[]): MountArgs {
  const [source, target, fstype, flags, data] = args.map((a) => argLong(abi, a));
  return { source: source!, target: target!, fstype: fstype!, flags: flags!, data: data! };
}

export type Decision =
  | { readonly kind: 'decline'; readonly reason: string }
  | { readonly kind: 'kernel'; readonly shift: boolean }
  | { readonly kind: 'fuse'; readonly binary: string };

const decline = (reason: string): Decision => ({ kind: 'decline', reason });

/** Only the filesystem type decides, as in LXD; source and target resolve in the caller's root. */
export function decideFstype(fstype: string, policy: Policy): Decision {
  const fuse = policy.mountFuse.get(fstype);
  return match({ on: policy.mount, fstype, allowed: policy.mountAllowed.includes(fstype), fuse })
    .with({ on: false }, () => decline('mount interception is off'))
    .with({ fstype: '' }, () => decline('no filesystem type'))
    .with({ fuse: P.string }, ({ fuse }) => ({ kind: 'fuse', binary: fuse }) as const)
    // hugetlbfs ids are translated by hand; an idmapped mount would translate them again.
    .with({ allowed: true }, () => ({ kind: 'kernel', shift: policy.mountShift && fstype !== 'hugetlbfs' }) as const)
    .otherwise(() => decline(`filesystem type "${fstype}" is not allowed`));
}

export function decideCaller(status: TaskStatus, inContainerUserns: boolean): Decision | undefined {
  if (!inContainerUserns) return decline("caller is not in the container's user namespace");
  if (!hasCap(status.capEff, CAP_SYS_ADMIN)) return decline('caller lacks CAP_SYS_ADMIN');
  return undefined;
}


/** A pointer argument: NULL is allowed and means "absent"; a fault leaves the call to the kernel. */
function readOptional(req: Request, ptr: bigint): string | undefined | false {
  if (ptr === 0n) return undefined;
  const r = req.target.memory.readString(ptr, PATH_MAX);
  return r.ok ? r.bytes.toString('latin1') : false;
}

function handle(req: Request, services: Services): Answer | Promise<Answer> {
  const { notif, target } = req;
  if (!req.policy.mount) return declined(req, 'mount interception is off');
  const args = mountArgs(req.syscall.abi, notif.args);
  const fstype = readOptional(req, args.fstype);
  if (fstype === false) return declined(req, 'fstype unreadable');
  const rule = decideFstype(fstype ?? '', req.policy);
  if (rule.kind === 'decline') return declined(req, rule.reason);
  const flags = translateMountFlags(args.flags);
  if (!flags.ok) return declined(req, flags.reason);
  const source = readOptional(req, args.source);
  const targetPath = readOptional(req, args.target);
  const data = readOptional(req, args.data);
  if (source === false || targetPath === false || data === false) return declined(req, 'an argument is unreadable');
  if (targetPath === undefined || targetPath === '') return declined(req, 'no target');
  const status = callerStatus(req);
  const caller = decideCaller(status, inContainerUserns(req));
  if (caller !== undefined && caller.kind === 'decline') return declined(req, caller.reason);

  let options = splitOptions(data ?? '');
  if (fstype === 'hugetlbfs') {
    const maps = containerMaps(req.container); // the caller is in its user namespace (decideCaller)
    const translated =
      maps === undefined
        ? undefined
        : hugetlbfsOptions(options, (id) => toOutside(maps.uid, id), (id) => toOutside(maps.gid, id), status.fsuid, status.fsgid);
    if (translated === undefined) return declined(req, 'hugetlbfs uid/gid not mapped');
    options = translated;
  }
  if (!stillPending(req)) return CONTINUE;
  const fuse = rule.kind === 'fuse';
  return emulate(req, services, status, {
    mode: fuse ? MountMode.FUSE : rule.shift ? MountMode.IDMAPPED : MountMode.PLAIN,
    target: targetPath,
    source: source ?? '',
    fstype: fuse ? rule.binary : (fstype as string),
    // fsconfig takes one option per call (NUL-separated); a FUSE program one -o list.
    options: fuse ? [...flags.fuseOptions, ...options].join(',') : [...flags.sbOptions, ...options].join('\0'),
    attrs: flags.attrs,
    fsLabel: fstype as string,
  });
}

interface Plan {
  mode: number;
  target: string;
  source: string;
  fstype: string;
  options: string;
  attrs: number;
  fsLabel: string;
}

async function emulate(req: Request, services: Services, status: TaskStatus, plan: Plan): Promise<Answer> {
  const started = process.hrtime.bigint();
  // Paths resolve as the caller, with only its own DAC overrides.
  const caps = status.capEff & (capBit(CAP_DAC_OVERRIDE) | capBit(CAP_DAC_READ_SEARCH));
  const reply = await services.helper.mount(
    req.notif.id,
    {
      ...callerCreds(req, status, caps),
      mode: plan.mode,
      target: Buffer.from(plan.target, 'latin1'),
      source: Buffer.from(plan.source, 'latin1'),
      fstype: Buffer.from(plan.fstype, 'latin1'),
      options: Buffer.from(plan.options, 'latin1'),
      attrs: plan.attrs,
    },
    req.target.procFd,
    req.target.listenerFd,
    req.remainingMs(),
  );
  req.audit({
    source: plan.source,
    target: plan.target,
    fstype: plan.fsLabel,
    mode: ['plain', 'idmapped', 'fuse'][plan.mode],
    options: plan.options.replace(/\0/g, ','),
    attrs: plan.attrs,
    errno: reply.errno,
    us: Number(process.hrtime.bigint() - started) / 1000,
  }, 'mount emulated');
  return reply.errno === 0 ? OK : errno(reply.errno);
}

export const mountHandler: Handler = { syscalls: ['mount'], handle };
