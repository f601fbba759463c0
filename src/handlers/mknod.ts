// mknod / mknodat (lxd-behaviour.md §6): whitelisted character devices are created
// by the helper as the caller; everything else is left to the kernel (CONTINUE).

import { match, P } from 'ts-pattern';
import { CONTINUE, OK, errno, type Answer } from '../../protocol/answer.js';
import { AT_FDCWD, Errno, PATH_MAX, S_IFCHR, S_IFMT } from '../../protocol/constants.js';
import { decodeDev } from '../../protocol/dev.js';
import { CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_MKNOD, capBit, hasCap, type TaskStatus } from '../../protocol/proc-status.js';
import { argInt32, argUint16, argUint32 } from '../../protocol/seccomp.js';
import type { Policy } from '../../compat/keys.js';
import { callerCreds, callerStatus, inContainerUserns, stillPending } from './caller.js';
import { EMULATE, TargetGoneError, decline, declined, type Decision } from './decision.js';
import type { Handler, KernelFeatures, Request, Services } from './types.js';

export interface MknodArgs {
  readonly dirfd: number;
  readonly pathPtr: bigint;
  readonly mode: number;
  readonly dev: number;
}

/** Narrows the registers as the kernel does: int dirfd, umode_t mode, unsigned dev. */
export function mknodArgs(name: 'mknod' | 'mknodat', args: readonly bigint[]): MknodArgs {
  return name === 'mknod'
    ? { dirfd: AT_FDCWD, pathPtr: args[0]!, mode: argUint16(args[1]!), dev: argUint32(args[2]!) }
    : { dirfd: argInt32(args[0]!), pathPtr: args[1]!, mode: argUint16(args[2]!), dev: argUint32(args[3]!) };
}

/** null, zero, full, random, urandom, tty, console; 0:0 is the overlayfs whiteout. */
export const ALLOWED_DEVICES: ReadonlySet<string> = new Set(['0:0', '1:3', '1:5', '1:7', '1:8', '1:9', '5:0', '5:1']);



// Patterns are built once: made per call, they cost more than the whole match.
const NOT_CHR = P.not(S_IFCHR);
const ALLOWED = P.when<string, (d: string) => boolean>((d) => ALLOWED_DEVICES.has(d));

/** The rule on the registers alone. */
export function decideMknod(a: MknodArgs, policy: Policy, kernel: KernelFeatures): Decision {
  const { major, minor } = decodeDev(a.dev);
  return match({ enabled: policy.mknod, type: a.mode & S_IFMT, device: `${major}:${minor}` })
    .with({ enabled: false }, () => decline('mknod interception is off'))
    .with({ type: NOT_CHR }, () => decline('not a character device'))
    .with({ device: '0:0' }, () => (kernel.unprivilegedWhiteouts ? decline('whiteout: the kernel allows it') : EMULATE))
    .with({ device: ALLOWED }, () => EMULATE)
    .otherwise(({ device }) => decline(`device ${device} is not allowed`));
}

/** The rule on the caller: root of the container's own user namespace with CAP_MKNOD, as the kernel would ask. */
export function decideCaller(status: TaskStatus, inContainerUserns: boolean, whiteout: boolean): Decision {
  if (!inContainerUserns) return decline("caller is not in the container's user namespace");
  if (!whiteout && !hasCap(status.capEff, CAP_MKNOD)) return decline('caller lacks CAP_MKNOD');
  return EMULATE;
}

/** Capabilities the helper may use: mknod itself, plus the caller's own DAC overrides. */
export function helperCaps(status: TaskStatus): bigint {
  const dac = capBit(CAP_DAC_OVERRIDE) | capBit(CAP_DAC_READ_SEARCH);
  return capBit(CAP_MKNOD) | (status.capEff & dac);
}


/** Synchronous up to the helper call, so declines cost no promise or timer. */
function handle(req: Request, services: Services): Answer | Promise<Answer> {
  const { notif, target } = req;
  const args = mknodArgs(req.syscall.name as 'mknod' | 'mknodat', notif.args);
  const rule = decideMknod(args, req.policy, services.kernel);
  if (rule.kind === 'decline') return declined(req, rule.reason);
  // A path the kernel itself would refuse (EFAULT, ENAMETOOLONG) is left to the kernel.
  const path = target.memory.readString(args.pathPtr, PATH_MAX);
  if (!path.ok && path.errno === Errno.ESRCH) throw new TargetGoneError('no process has its pid');
  if (!path.ok) return declined(req, `path unreadable (errno ${path.errno})`);
  const status = callerStatus(req);
  const caller = decideCaller(status, inContainerUserns(req), args.dev === 0);
  if (caller.kind === 'decline') return declined(req, caller.reason);
  if (!stillPending(req)) return CONTINUE;
  return emulate(req, services, args, status, path.bytes);
}

async function emulate(req: Request, services: Services, args: MknodArgs, status: TaskStatus, path: Buffer): Promise<Answer> {
  const { notif, target } = req;
  const started = process.hrtime.bigint();
  const reply = await services.helper.mknod(
    notif.id,
    { ...callerCreds(req, status, helperCaps(status)), dirfd: args.dirfd, mode: args.mode, dev: args.dev, path },
    target.procFd,
    target.listenerFd,
    req.remainingMs(),
  );
  const { major, minor } = decodeDev(args.dev);
  req.audit({
    path: path.toString('utf8'),
    dirfd: args.dirfd,
    mode: args.mode.toString(8),
    dev: `${major}:${minor}`,
    fsuid: status.fsuid,
    errno: reply.errno,
    bound: reply.flags !== 0,
    us: Number(process.hrtime.bigint() - started) / 1000,
  }, 'mknod emulated');
  return reply.errno === 0 ? OK : errno(reply.errno);
}

export const mknodHandler: Handler = { syscalls: ['mknod', 'mknodat'], handle };
