// /proc/<pid>/stat (the start time) and /proc/uptime. Pure; malformed input → undefined.

/**
 * Field 22 of /proc/<pid>/stat, `starttime`: clock ticks (sysconf(_SC_CLK_TCK)) after
 * boot. The command name (field 2) may hold spaces and parentheses, so fields are
 * counted from the last `)`.
 */
export function parseStartTime(text: string): bigint | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const field = text.slice(close + 2).split(' ')[22 - 3];
  return field !== undefined && /^\d{1,20}$/.test(field) ? BigInt(field) : undefined;
}

/** The first number of /proc/uptime: seconds since boot (boot clock, 10 ms resolution). */
export function parseUptime(text: string): number | undefined {
  const first = text.trim().split(/\s+/)[0] ?? '';
  if (!/^\d+(\.\d+)?$/.test(first)) return undefined;
  const v = Number(first);
  return Number.isFinite(v) ? v : undefined;
}
