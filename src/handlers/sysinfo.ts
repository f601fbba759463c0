// sysinfo (lxd-behaviour.md §11): the container's memory, swap, task count and uptime,
// from its cgroups and its init, written in the caller's own struct layout. Unlike LXD:
// stricter ancestor limits count, free memory never wraps, the clock-tick rate is the
// real one, and an i386 caller gets the i386 struct (§13, defects 4–7).

import path from 'node:path';
import { match, P } from 'ts-pattern';
import { CONTINUE, OK, errno, type Answer } from '../../protocol/answer.js';
import { parseProcCgroup, type Limit } from '../../protocol/cgroup.js';
import { Errno } from '../../protocol/constants.js';
import { parseStartTime, parseUptime } from '../../protocol/proc-stat.js';
import { argUint32 } from '../../protocol/seccomp.js';
import { encodeSysinfo, type Sysinfo, type SysinfoLayout } from '../../protocol/sysinfo.js';
import type { Abi } from '../../protocol/syscalls.js';
import { CLK_TCK, hostSysinfo } from '../../native/host.js';
import { stillPending } from './caller.js';
import { CgroupReadError, parsed, readFile, required } from '../cgroup/files.js';
import { locateController } from '../cgroup/locate.js';
import { minLimit, readMemory, saturatingSub, type MemoryFigures } from '../cgroup/memory.js';
import { readPids } from '../cgroup/pids.js';
import { declined } from './decision.js';
import type { Handler, Request } from './types.js';

/** `procs` is a u16. */
export const PROCS_MAX = 65535;

/** What the container's cgroups and its init say, read in one go. */
export interface ContainerFacts {
  readonly memory: MemoryFigures;
  /** pids.current of the container's cgroup. */
  readonly tasks: bigint;
  /** When the container's init started: clock ticks after boot. */
  readonly initStart: bigint;
  /** Seconds since boot (/proc/uptime). */
  readonly hostUptime: number;
}

/** Reads the facts below `root` ('/' in the daemon); throws CgroupReadError if any is unreadable. */
export function readContainerFacts(root: string, initPid: number): ContainerFacts {
  const proc = path.resolve(root, 'proc');
  const cgroupFile = path.join(proc, String(initPid), 'cgroup');
  const cgroups = parsed(cgroupFile, readFile(cgroupFile), parseProcCgroup);
  const memory = required(`${cgroupFile}: no memory controller`, locateController(root, cgroups, 'memory'));
  const pids = required(`${cgroupFile}: no pids controller`, locateController(root, cgroups, 'pids'));
  const statFile = path.join(proc, String(initPid), 'stat');
  const uptimeFile = path.join(proc, 'uptime');
  return {
    memory: readMemory(memory),
    tasks: readPids(pids),
    initStart: parsed(statFile, readFile(statFile), parseStartTime),
    hostUptime: parsed(uptimeFile, readFile(uptimeFile), parseUptime),
  };
}

/** A limit, never above what the host has. */
function capped(limit: Limit, host: bigint): bigint {
  const v = minLimit(limit, host);
  return v === 'max' ? host : v;
}

/** Whole seconds since the container's init started, rounded up as the kernel rounds its own. */
export function containerUptime(hostUptime: number, initStart: bigint, clkTck: number): bigint {
  const seconds = hostUptime - Number(initStart) / clkTck;
  // The margin absorbs float error on a whole number of seconds.
  return BigInt(Math.max(0, Math.ceil(seconds - 1e-6)));
}

/** The container's struct from its facts and the host's own sysinfo() (sizes in bytes). */
export function containerSysinfo(facts: ContainerFacts, host: Sysinfo, clkTck: number): Sysinfo {
  const { memory, tasks } = facts;
  const totalram = capped(memory.limit, host.totalram);
  const totalswap = memory.swap === undefined ? 0n : capped(memory.swap.limit, host.totalswap);
  return {
    uptime: containerUptime(facts.hostUptime, facts.initStart, clkTck),
    loads: host.loads,
    totalram,
    freeram: saturatingSub(saturatingSub(totalram, memory.usage), memory.file),
    sharedram: memory.shmem,
    bufferram: memory.file,
    totalswap,
    freeswap: memory.swap === undefined ? 0n : saturatingSub(totalswap, memory.swap.usage),
    procs: tasks > BigInt(PROCS_MAX) ? PROCS_MAX : Number(tasks),
    totalhigh: host.totalhigh,
    freehigh: host.freehigh,
  };
}

// Built once: made per call, a pattern costs more than the whole match.
const NATIVE_ABI = P.union('x86_64', 'x32', 'aarch64');

/** The caller's struct layout, and its buffer as its ABI passes the pointer. */
export function callerBuffer(abi: Abi, arg0: bigint): { readonly layout: SysinfoLayout; readonly ptr: bigint } {
  return match(abi)
    .with('i386', () => ({ layout: 'i386' as const, ptr: BigInt(argUint32(arg0)) }))
    .with(NATIVE_ABI, () => ({ layout: 'native' as const, ptr: arg0 }))
    .exhaustive();
}


function gather(req: Request): ContainerFacts | string {
  try {
    return readContainerFacts('/', req.container.initPid);
  } catch (err) {
    if (err instanceof CgroupReadError) return err.message;
    throw err;
  }
}

/** Synchronous: a handful of small files, no helper. */
function handle(req: Request): Answer {
  const { notif, target } = req;
  const started = process.hrtime.bigint();
  if (!req.policy.sysinfo) return declined(req, 'sysinfo interception is off');
  if (target.listenerFd < 0) return declined(req, 'no listener fd: the write could not be re-validated');
  if (req.container.initPid <= 0) return declined(req, "the container's init is unknown");
  if (CLK_TCK <= 0) return declined(req, 'sysconf(_SC_CLK_TCK) failed');
  const host = hostSysinfo();
  if (host === undefined) return declined(req, 'host sysinfo() failed');
  // Unreadable cgroup data: the kernel answers, with the host's values.
  const facts = gather(req);
  if (typeof facts === 'string') return declined(req, facts);
  const info = containerSysinfo(facts, host, CLK_TCK);
  const { layout, ptr } = callerBuffer(req.syscall.abi, notif.args[0]!);
  const bytes = encodeSysinfo(info, layout);
  if (!stillPending(req)) return CONTINUE;
  // The struct may be half written: a bad buffer is EFAULT, as the kernel answers.
  const failed = target.memory.write(ptr, bytes) !== 0;
  req.audit({
    totalram: Number(info.totalram),
    freeram: Number(info.freeram),
    procs: info.procs,
    uptime: Number(info.uptime),
    layout,
    errno: failed ? Errno.EFAULT : 0,
    us: Number(process.hrtime.bigint() - started) / 1000,
  }, 'sysinfo emulated');
  return failed ? errno(Errno.EFAULT) : OK;
}

export const sysinfoHandler: Handler = { syscalls: ['sysinfo'], handle };
