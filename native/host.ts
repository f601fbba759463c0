// The host's own view, from libc: sysinfo() and the clock-tick rate of /proc/<pid>/stat.

import { decodeSysinfoNative, SYSINFO_NATIVE_SIZE, type Sysinfo } from '../protocol/sysinfo.js';
import { c } from './libc.js';

const _SC_CLK_TCK = 2;

/** sysconf(_SC_CLK_TCK), read once: the unit of /proc/<pid>/stat times (0 if unknown). */
export const CLK_TCK: number = (() => {
  const v = Number(c.sysconf(_SC_CLK_TCK));
  return Number.isSafeInteger(v) && v > 0 ? v : 0;
})();

const buf = Buffer.alloc(SYSINFO_NATIVE_SIZE);

/** The host's sysinfo(), sizes in bytes; undefined if the call fails. */
export function hostSysinfo(): Sysinfo | undefined {
  if (c.sysinfo(buf) !== 0) return undefined;
  return decodeSysinfoNative(buf);
}
