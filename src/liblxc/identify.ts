// Which container a liblxc connection serves: the cookie when one is configured
// (lxc.seccomp.notify.cookie), else the title of the monitor process that connected.

import fs from 'node:fs';
import { validContainerName } from '../../compat/policy-source.js';

const MONITOR_PREFIX = '[lxc monitor] ';

/** `[lxc monitor] <lxcpath> <name>` → name; undefined for any other command line. */
export function parseMonitorTitle(cmdline: string): string | undefined {
  const text = cmdline.replace(/\0+$/, '').replace(/\0/g, ' ');
  if (!text.startsWith(MONITOR_PREFIX)) return undefined;
  const words = text.slice(MONITOR_PREFIX.length).trim().split(' ');
  const name = words[words.length - 1];
  return name !== undefined && validContainerName(name) ? name : undefined;
}

/** The monitor's title names the container; `pid` must come from SO_PEERCRED, not from the message. */
export function monitorName(pid: number): string | undefined {
  try {
    return parseMonitorTitle(fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1'));
  } catch {
    return undefined;
  }
}

export function containerName(cookie: string, peerPid: number): string | undefined {
  if (cookie !== '') return validContainerName(cookie) ? cookie : undefined;
  return monitorName(peerPid);
}
