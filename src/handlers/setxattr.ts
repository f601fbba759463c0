// setxattr (lxd-behaviour.md §7): only `trusted.overlay.opaque` = "y", what Docker's
// overlay2 driver sets on opaque directories, for a caller with CAP_SYS_ADMIN in the
// container. Everything else gets the kernel's own answer (CONTINUE).

import { match, P } from 'ts-pattern';
import { CONTINUE, OK, errno, type Answer } from '../../protocol/answer.js';
import { PATH_MAX } from '../../protocol/constants.js';
import { HELPER_FLAG_DECLINE } from '../../protocol/helper-wire.js';
import { CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_SYS_ADMIN, capBit, hasCap, type TaskStatus } from '../../protocol/proc-status.js';
import { argInt32, argLong } from '../../protocol/seccomp.js';
import type { Abi } from '../../protocol/syscalls.js';
import type { Policy } from '../../compat/keys.js';
import { callerCreds, callerStatus, inContainerUserns, stillPending } from './caller.js';
import { EMULATE, decline, declined, type Decision } from './decision.js';
import type { Handler, Request, Services } from './types.js';

export const OPAQUE_NAME = 'trusted.overlay.opaque';
const XATTR_NAME_MAX = 255;
const XATTR_CREATE = 1;
const XATTR_REPLACE = 2;

export interface SetxattrArgs {
  readonly pathPtr: bigint;
  readonly namePtr: bigint;
  readonly valuePtr: bigint;
  readonly size: bigint;
  readonly flags: number;
}

export function setxattrArgs(abi: Abi, args: readonly bigint[]): SetxattrArgs {
  return {
    pathPtr: argLong(abi, args[0]!),
    namePtr: argLong(abi, args[1]!),
    valuePtr: argLong(abi, args[2]!),
    size: argLong(abi, args[3]!),
    flags: argInt32(args[4]!),
  };
}


// Built once: made per call, a pattern costs more than the whole match.
const NOT_ONE_BYTE = P.not(1n);

/** The rule on the registers: anything but a 1-byte value with valid flags is the kernel's. */
export function decideRegisters(a: SetxattrArgs, policy: Policy): Decision {
  return match({ enabled: policy.setxattr, size: a.size, knownFlags: (a.flags & ~(XATTR_CREATE | XATTR_REPLACE)) === 0 })
    .with({ enabled: false }, () => decline('setxattr interception is off'))
    .with({ size: NOT_ONE_BYTE }, () => decline('value is not 1 byte'))
    .with({ knownFlags: false }, () => decline('flags the kernel refuses'))
    .otherwise(() => EMULATE);
}

/** The rule on the copied name and value. */
export function decideAttribute(name: Buffer, value: Buffer): Decision {
  if (name.toString('latin1') !== OPAQUE_NAME) return decline('not trusted.overlay.opaque');
  if (value.length !== 1 || value[0] !== 0x79 /* 'y' */) return decline('value is not "y"');
  return EMULATE;
}

/** As the kernel asks of trusted.*: CAP_SYS_ADMIN, here in the container's own namespace. */
export function decideCaller(status: TaskStatus, inContainerUserns: boolean): Decision {
  if (!inContainerUserns) return decline("caller is not in the container's user namespace");
  if (!hasCap(status.capEff, CAP_SYS_ADMIN)) return decline('caller lacks CAP_SYS_ADMIN');
  return EMULATE;
}


function handle(req: Request, services: Services): Answer | Promise<Answer> {
  const { notif, target } = req;
  const args = setxattrArgs(req.syscall.abi, notif.args);
  const rule = decideRegisters(args, req.policy);
  if (rule.kind === 'decline') return declined(req, rule.reason);
  // Each argument is read once; a read the kernel would fail is left to the kernel.
  const name = target.memory.readString(args.namePtr, XATTR_NAME_MAX + 1);
  if (!name.ok) return declined(req, `name unreadable (errno ${name.errno})`);
  const value = target.memory.read(args.valuePtr, 1);
  if (!value.ok) return declined(req, `value unreadable (errno ${value.errno})`);
  const attr = decideAttribute(name.bytes, value.bytes);
  if (attr.kind === 'decline') return declined(req, attr.reason);
  const path = target.memory.readString(args.pathPtr, PATH_MAX);
  if (!path.ok || path.bytes.length === 0) return declined(req, 'path unreadable or empty');
  const status = callerStatus(req);
  const caller = decideCaller(status, inContainerUserns(req));
  if (caller.kind === 'decline') return declined(req, caller.reason);
  if (!stillPending(req)) return CONTINUE;
  return emulate(req, services, args, status, path.bytes, name.bytes, value.bytes);
}

async function emulate(
  req: Request,
  services: Services,
  args: SetxattrArgs,
  status: TaskStatus,
  path: Buffer,
  name: Buffer,
  value: Buffer,
): Promise<Answer> {
  const started = process.hrtime.bigint();
  // Path lookup runs as the caller, with only its own DAC overrides.
  const caps = status.capEff & (capBit(CAP_DAC_OVERRIDE) | capBit(CAP_DAC_READ_SEARCH));
  const reply = await services.helper.setxattr(
    req.notif.id,
    { ...callerCreds(req, status, caps), flags: args.flags, path, name, value },
    req.target.procFd,
    req.target.listenerFd,
    req.remainingMs(),
  );
  const declinedByHelper = (reply.flags & HELPER_FLAG_DECLINE) !== 0;
  req.audit({
    path: path.toString('utf8'),
    name: OPAQUE_NAME,
    flags: args.flags,
    errno: reply.errno,
    declined: declinedByHelper,
    us: Number(process.hrtime.bigint() - started) / 1000,
  }, 'setxattr emulated');
  if (declinedByHelper) return CONTINUE;
  return reply.errno === 0 ? OK : errno(reply.errno);
}

export const setxattrHandler: Handler = { syscalls: ['setxattr'], handle };
