// `interceptd lxc-config`: records a container's policy (LXD keys), writes the seccomp
// profile LXD would generate for it, and returns the liblxc config lines that wire
// the container to interceptd.

import fs from 'node:fs';
import path from 'node:path';
import { yaml } from './yaml.js';
import { applyAssignments, parsePolicy, needsInterception, type Policy } from './keys.js';
import { generateProfile } from './profile.js';
import { parsePolicyText, policyFile, validContainerName } from './policy-source.js';

export interface LxcConfigRequest {
  readonly name: string;
  readonly configDir: string;
  readonly stateDir: string;
  /** KEY=VALUE assignments, applied over the container's current policy file. */
  readonly set: readonly string[];
  readonly unset: readonly string[];
}

export type LxcConfigResult =
  | { readonly ok: true; readonly policyPath: string; readonly profilePath: string; readonly lines: string[]; readonly policy: Policy }
  | { readonly ok: false; readonly errors: string[] };

export function profilePath(configDir: string, name: string): string {
  return path.join(configDir, 'seccomp', name);
}

function readCurrent(file: string): { config: Record<string, string>; errors: string[] } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { config: {}, errors: [] };
  }
  const parsed = parsePolicyText(text);
  if (!parsed.ok) return { config: {}, errors: parsed.errors.map((e) => `${file}: ${e}`) };
  const doc = (yaml().parse(text) ?? {}) as Record<string, unknown>;
  return { config: Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, String(v)])), errors: [] };
}

function writeAtomic(file: string, text: string, mode: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text, { mode });
  fs.renameSync(tmp, file);
}

export function lxcConfig(req: LxcConfigRequest): LxcConfigResult {
  if (!validContainerName(req.name)) return { ok: false, errors: [`invalid container name "${req.name}"`] };
  const file = policyFile(req.configDir, req.name);
  const current = readCurrent(file);
  if (current.errors.length > 0) return { ok: false, errors: current.errors };
  const config = current.config;
  const errors = applyAssignments(config, req.set, req.unset);
  if (errors.length > 0) return { ok: false, errors };
  const parsed = parsePolicy(config);
  if (!parsed.ok) return { ok: false, errors: parsed.errors };

  const socket = path.join(req.stateDir, 'seccomp.socket');
  if (Buffer.byteLength(socket) > 107) return { ok: false, errors: [`socket path ${socket} is longer than 107 bytes`] };
  const sorted = Object.fromEntries(Object.entries(config).sort(([a], [b]) => a.localeCompare(b)));
  writeAtomic(file, yaml().stringify(sorted, { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN' }), 0o644);
  const profile = profilePath(req.configDir, req.name);
  writeAtomic(profile, generateProfile(parsed.policy), 0o644);
  const lines = [`lxc.seccomp.profile = ${profile}`];
  if (needsInterception(parsed.policy)) {
    lines.push(`lxc.seccomp.notify.proxy = unix:${socket}`, `lxc.seccomp.notify.cookie = ${req.name}`);
  }
  return { ok: true, policyPath: file, profilePath: profile, lines, policy: parsed.policy };
}
