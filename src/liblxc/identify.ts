// Which container a liblxc connection serves: the cookie when one is configured
// (lxc.seccomp.notify.cookie), else the title of the monitor process that connected.

import fs from 'node:fs';
import { validContainerName } from '../../compat/policy-source.js';

const MONITOR_PREFIX = '[lxc monitor] ';

export interface Identity {
  readonly name: string;
  /** The lxcpath from the monitor's title; absent when a cookie named the container. */
  readonly lxcPath?: string;
}

/** `[lxc monitor] <lxcpath> <name>` → both; undefined for any other command line. */
export function parseMonitor(cmdline: string): { name: string; lxcPath: string } | undefined {
  const text = cmdline.replace(/\0+$/, '').replace(/\0/g, ' ');
  if (!text.startsWith(MONITOR_PREFIX)) return undefined;
  const rest = text.slice(MONITOR_PREFIX.length).trim();
  const cut = rest.lastIndexOf(' ');
  const name = rest.slice(cut + 1);
  return validContainerName(name) ? { name, lxcPath: cut > 0 ? rest.slice(0, cut).trim() : '' } : undefined;
}

export function parseMonitorTitle(cmdline: string): string | undefined {
  return parseMonitor(cmdline)?.name;
}

/** The monitor's title names the container; `pid` must come from SO_PEERCRED, not from the message. */
export function monitorIdentity(pid: number): { name: string; lxcPath: string } | undefined {
  try {
    return parseMonitor(fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1'));
  } catch {
    return undefined;
  }
}

/** The cookie names the container when one is configured; else the monitor's title (read once, at connect). */
export function identify(cookie: string, title: Identity | undefined): Identity | undefined {
  if (cookie !== '') return validContainerName(cookie) ? { name: cookie } : undefined;
  return title;
}
