// An OCI container's policy from what its runtime sends: `listenerMetadata` first, then
// the bundle's annotations; with neither, the policy file decides. Pure.
//
// listenerMetadata: LXD keys as KEY=VALUE entries, one per line (or separated by ';'),
// or a JSON object of keys to values. Annotations: `interceptd.<LXD key>` or the plain
// `security.syscalls.intercept.*` key. Only interception keys belong here: the filter
// itself is the bundle's `linux.seccomp`.

import { INTERCEPT, parsePolicy, validateKey, type Policy } from './keys.js';

export const ANNOTATION_PREFIX = 'interceptd.';

export type Config = Record<string, string>;
type Parsed = { readonly ok: true; readonly config: Config } | { readonly ok: false; readonly errors: string[] };

function checkKey(key: string, value: string, where: string): string | undefined {
  if (!key.startsWith(INTERCEPT)) return `${where}: "${key}" is not a ${INTERCEPT}* key`;
  const problem = validateKey(key, value);
  return problem === undefined ? undefined : `${where}: ${problem}`;
}

function collect(entries: Iterable<[string, string]>, where: string): Parsed {
  const config: Config = {};
  const errors: string[] = [];
  for (const [key, value] of entries) {
    const problem = checkKey(key, value, where);
    if (problem !== undefined) errors.push(problem);
    else config[key] = value;
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config };
}

export function parseMetadata(text: string): Parsed {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let doc: unknown;
    try {
      doc = JSON.parse(trimmed);
    } catch (err) {
      return { ok: false, errors: [`listenerMetadata: not valid JSON: ${(err as Error).message}`] };
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      return { ok: false, errors: ['listenerMetadata: not a JSON object'] };
    }
    const entries: [string, string][] = [];
    for (const [k, v] of Object.entries(doc)) {
      if (typeof v !== 'string' && typeof v !== 'boolean' && typeof v !== 'number') {
        return { ok: false, errors: [`listenerMetadata: value of "${k}" must be a string`] };
      }
      entries.push([k, String(v)]);
    }
    return collect(entries, 'listenerMetadata');
  }
  const entries: [string, string][] = [];
  for (const item of trimmed.split(/[\n;]/)) {
    const entry = item.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    if (eq <= 0) return { ok: false, errors: [`listenerMetadata: "${entry}" is not KEY=VALUE`] };
    entries.push([entry.slice(0, eq).trim(), entry.slice(eq + 1).trim()]);
  }
  return collect(entries, 'listenerMetadata');
}

/** The metadata text `oci-config` writes: one KEY=VALUE per line, sorted. */
export function formatMetadata(config: Readonly<Config>): string {
  return Object.keys(config)
    .sort()
    .map((k) => `${k}=${config[k]}`)
    .join('\n');
}

export function parseAnnotations(annotations: Readonly<Record<string, string>>): Parsed {
  const entries: [string, string][] = [];
  for (const [name, value] of Object.entries(annotations)) {
    if (name.startsWith(ANNOTATION_PREFIX)) entries.push([name.slice(ANNOTATION_PREFIX.length), value]);
    else if (name.startsWith(INTERCEPT)) entries.push([name, value]);
  }
  return collect(entries, 'annotations');
}

export type OciPolicy =
  /** Neither metadata nor annotations set a key: the policy file decides. */
  | { readonly kind: 'none' }
  | { readonly kind: 'policy'; readonly policy: Policy; readonly source: string }
  | { readonly kind: 'invalid'; readonly errors: string[] };

/** Metadata keys win over annotation keys, key by key. */
export function resolveOciPolicy(metadata: string | undefined, annotations: Readonly<Record<string, string>>): OciPolicy {
  const fromMeta = metadata === undefined || metadata.trim() === '' ? ({ ok: true, config: {} } as const) : parseMetadata(metadata);
  const fromAnn = parseAnnotations(annotations);
  const errors = [...(fromMeta.ok ? [] : fromMeta.errors), ...(fromAnn.ok ? [] : fromAnn.errors)];
  if (!fromMeta.ok || !fromAnn.ok) return { kind: 'invalid', errors };
  const sources = [Object.keys(fromMeta.config).length > 0 && 'listenerMetadata', Object.keys(fromAnn.config).length > 0 && 'annotations'];
  const source = sources.filter((s): s is string => s !== false).join('+');
  if (source === '') return { kind: 'none' };
  const parsed = parsePolicy({ ...fromAnn.config, ...fromMeta.config });
  return parsed.ok ? { kind: 'policy', policy: parsed.policy, source } : { kind: 'invalid', errors: parsed.errors };
}
