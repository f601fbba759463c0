// sched_setscheduler (lxd-behaviour.md §10): container root with CAP_SYS_NICE may set
// any policy on itself or on a process of its own pid namespace. The helper resolves
// the pid inside that namespace, so a container pid can never name a host process.

import { match } from 'ts-pattern';
import { CONTINUE, OK, errno, type Answer } from '../../protocol/answer.js';
import { CAP_SYS_NICE, hasCap, type TaskStatus } from '../../protocol/proc-status.js';
import { argInt32, argLong } from '../../protocol/seccomp.js';
import type { Abi } from '../../protocol/syscalls.js';
import type { Policy } from '../../compat/keys.js';
import { callerCreds, callerStatus, idsInside, inContainerUserns, stillPending } from './caller.js';
import { EMULATE, decline, declined, type Decision } from './decision.js';
import type { Handler, Request, Services } from './types.js';

const SCHED_FIFO = 1;
const SCHED_RR = 2;
const SCHED_RESET_ON_FORK = 0x40000000;
const EPERM = 1;

export interface SchedArgs {
  readonly pid: number;
  readonly policy: number;
  readonly paramPtr: bigint;
}

export function schedArgs(abi: Abi, args: readonly bigint[]): SchedArgs {
  return { pid: argInt32(args[0]!), policy: argInt32(args[1]!), paramPtr: argLong(abi, args[2]!) };
}


export interface CallerFacts {
  readonly inContainerUserns: boolean;
  /** The caller's effective uid and gid inside its namespace. */
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
  readonly capEff: bigint;
}

/** Served only for container root with CAP_SYS_NICE; a negative pid is the kernel's EINVAL. */
export function decideSched(a: SchedArgs, policy: Policy, caller: CallerFacts): Decision {
  return match({
    enabled: policy.schedSetscheduler,
    validPid: a.pid >= 0,
    inContainerUserns: caller.inContainerUserns,
    containerRoot: caller.uid === 0 && caller.gid === 0,
    capNice: hasCap(caller.capEff, CAP_SYS_NICE),
  })
    .with({ enabled: false }, () => decline('sched_setscheduler interception is off'))
    .with({ validPid: false }, () => decline('negative pid'))
    .with({ inContainerUserns: false }, () => decline("caller is not in the container's user namespace"))
    .with({ containerRoot: false }, () => decline('caller is not container root'))
    .with({ capNice: false }, () => decline('caller lacks CAP_SYS_NICE'))
    .with({ enabled: true, validPid: true, inContainerUserns: true, containerRoot: true, capNice: true }, () => EMULATE)
    .exhaustive();
}


function handle(req: Request, services: Services): Answer | Promise<Answer> {
  const { notif, target } = req;
  const args = schedArgs(req.syscall.abi, notif.args);
  if (!req.policy.schedSetscheduler) return declined(req, 'sched_setscheduler interception is off');
  const status = callerStatus(req);
  const inUserns = inContainerUserns(req);
  const ids = inUserns ? idsInside(req.container, status) : {};
  const rule = decideSched(args, req.policy, { inContainerUserns: inUserns, ...ids, capEff: status.capEff });
  if (rule.kind === 'decline') return declined(req, rule.reason);
  const param = target.memory.read(args.paramPtr, 4);
  if (!param.ok) return declined(req, `sched_param unreadable (errno ${param.errno})`);
  if (!stillPending(req)) return CONTINUE;
  return emulate(req, services, args, status, param.bytes.readInt32LE(0));
}

async function emulate(req: Request, services: Services, args: SchedArgs, status: TaskStatus, priority: number): Promise<Answer> {
  const started = process.hrtime.bigint();
  const reply = await services.helper.sched(
    req.notif.id,
    { ...callerCreds(req, status, 0n), pid: args.pid, policy: args.policy, priority },
    req.target.procFd,
    req.target.listenerFd,
    req.remainingMs(),
  );
  const rt = (args.policy & ~SCHED_RESET_ON_FORK) === SCHED_FIFO || (args.policy & ~SCHED_RESET_ON_FORK) === SCHED_RR;
  req.audit({
    targetPid: args.pid,
    policy: args.policy,
    priority,
    errno: reply.errno,
    us: Number(process.hrtime.bigint() - started) / 1000,
  }, 'sched_setscheduler emulated');
  if (rt && reply.errno === EPERM) {
    req.log.warn(
      { container: req.container.name },
      "real-time policy refused even for host root: the container's cgroup has no real-time budget " +
        '(cgroup v1: set lxc.cgroup.cpu.rt_runtime_us, e.g. 100000, and give the parent cgroups enough)',
    );
  }
  return reply.errno === 0 ? OK : errno(reply.errno);
}

export const schedHandler: Handler = { syscalls: ['sched_setscheduler'], handle };
