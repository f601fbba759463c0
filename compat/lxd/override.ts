// Pointing LXD's containers at interceptd: a `raw.lxc` line that overrides the
// `lxc.seccomp.notify.proxy` LXD writes (liblxc keeps the last value of the key, and
// LXD puts raw.lxc last in the generated lxc.conf). Pure text helpers.

import path from 'node:path';
import { needsInterception } from '../keys.js';
import { policyFromConfig } from './source.js';

const PROXY_KEY = 'lxc.seccomp.notify.proxy';

/** The proxy value naming the daemon on `stateDir`. */
export function ourProxy(stateDir: string): string {
  return `unix:${path.join(stateDir, 'seccomp.socket')}`;
}

/** The line that sends a container's notifications to the daemon on `stateDir`. */
export function overrideLine(stateDir: string): string {
  return `${PROXY_KEY} = ${ourProxy(stateDir)}`;
}

/** The value of the last `lxc.seccomp.notify.proxy` line of liblxc config text (what liblxc uses). */
export function lastProxy(text: string): string | undefined {
  let found: string | undefined;
  for (const line of text.split('\n')) {
    const m = /^\s*lxc\.seccomp\.notify\.proxy\s*=\s*(.*?)\s*$/.exec(line);
    if (m !== null) found = m[1];
  }
  return found;
}

/** Any intercept switch on: LXD then writes a notify filter and a proxy line at start. */
export function intercepts(config: Readonly<Record<string, string>>): boolean {
  const parsed = policyFromConfig(config);
  return parsed.ok && needsInterception(parsed.policy);
}

/** Where LXD keeps a container's generated lxc.conf, from the directory of its API socket. */
export function lxcConfPath(lxdDir: string, lxcName: string): string {
  // Debian and Incus packages log under /var/log/<name>; the snap under its own dir.
  const logs = lxdDir.startsWith('/var/lib/') ? path.join('/var/log', path.basename(lxdDir)) : path.join(lxdDir, 'logs');
  return path.join(logs, lxcName, 'lxc.conf');
}

export type Serving =
  /** No intercept key: nothing to serve. */
  | 'none'
  /** LXD's own interceptor. */
  | 'lxd'
  /** Started with the override: interceptd serves it. */
  | 'interceptd'
  /** The override is in its config but it runs without it (started before, or stopped): a restart switches it. */
  | 'restart'
  /** Its notifications go to some other socket. */
  | 'elsewhere';

/**
 * Who serves a container, from its expanded config and the lxc.conf it was last started
 * with (undefined when it is not running). `lxdOwn`: LXD's own seccomp socket, as a proxy value.
 */
export function serving(config: Readonly<Record<string, string>>, runningConf: string | undefined, ours: string, lxdOwn: string): Serving {
  if (!intercepts(config)) return 'none';
  const wanted = lastProxy(config['raw.lxc'] ?? '') ?? lxdOwn;
  const running = runningConf !== undefined ? (lastProxy(runningConf) ?? lxdOwn) : undefined;
  if (running === ours) return 'interceptd';
  if (wanted === ours) return 'restart';
  const now = running ?? wanted;
  return now === lxdOwn ? 'lxd' : 'elsewhere';
}

/** LXD's own seccomp socket as a proxy value (Incus keeps it under /run/incus). */
export function lxdOwnProxy(lxdDir: string): string {
  return lxdDir === '/var/lib/incus' ? 'unix:/run/incus/seccomp.socket' : `unix:${path.join(lxdDir, 'seccomp.socket')}`;
}
