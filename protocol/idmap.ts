// /proc/<pid>/uid_map and gid_map: "inside outside count" lines.

export interface IdRange {
  readonly inside: number;
  readonly outside: number;
  readonly count: number;
}

export function parseIdMap(text: string): IdRange[] {
  const out: IdRange[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/).map(Number);
    if (f.length === 3 && f.every((n) => Number.isSafeInteger(n) && n >= 0)) {
      out.push({ inside: f[0]!, outside: f[1]!, count: f[2]! });
    }
  }
  return out;
}

/** The id a host id has inside the namespace, or undefined when it is not mapped. */
export function toInside(map: readonly IdRange[], hostId: number): number | undefined {
  for (const r of map) if (hostId >= r.outside && hostId < r.outside + r.count) return r.inside + (hostId - r.outside);
  return undefined;
}

/** The host id of an id inside the namespace, or undefined when it is not mapped. */
export function toOutside(map: readonly IdRange[], inside: number): number | undefined {
  for (const r of map) if (inside >= r.inside && inside < r.inside + r.count) return r.outside + (inside - r.inside);
  return undefined;
}
