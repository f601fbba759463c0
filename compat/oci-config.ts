// `interceptd oci-config`: adds to an OCI bundle's config.json the notify rules LXD
// would generate for the given keys (oci-seccomp-agent.md §6), plus listenerPath and
// listenerMetadata. Everything else in the file is kept, 64-bit numbers included.

import fs from 'node:fs';
import path from 'node:path';
import { EMPTY_POLICY, INTERCEPT, applyAssignments, needsInterception, parsePolicy, type Policy } from './keys.js';
import { formatMetadata, parseMetadata, type Config } from './oci-policy.js';
import { interceptRules } from './profile.js';
import { isJsonObject, jsonNumber, jsonObject, parseJson, stringifyJson, type JsonObject, type JsonValue } from './json-text.js';

export const OCI_SOCKET = 'oci.socket';

/** liblxc's `[all]` on x86_64 covers the native, i386 and x32 ABIs. */
const X86_ARCHES = ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];

function obj(entries: [string, JsonValue][]): JsonObject {
  const o = jsonObject();
  for (const [k, v] of entries) o[k] = v;
  return o;
}

/**
 * One liblxc rule line (`mknod notify [1,8192,SCMP_CMP_MASKED_EQ,61440]`) as an OCI rule.
 * For MASKED_EQ, liblxc writes [index, value, op, mask]; OCI passes value, valueTwo to
 * libseccomp as (mask, expected), so the mask goes first.
 */
export function ociRule(line: string): JsonObject {
  const words = line.trim().split(/\s+/);
  const [name, action] = words;
  let rest = words.slice(2);
  const rule = obj([['names', [name!]]]);
  if (action === 'notify') {
    rule.action = 'SCMP_ACT_NOTIFY';
  } else if (action === 'errno') {
    rule.action = 'SCMP_ACT_ERRNO';
    rule.errnoRet = Number(rest[0]);
    rest = rest.slice(1);
  } else {
    throw new Error(`cannot translate rule "${line}"`);
  }
  const args = rest.map((a) => {
    const [index, value, op, mask] = a.replace(/^\[|\]$/g, '').split(',');
    if (op === 'SCMP_CMP_MASKED_EQ') {
      return obj([['index', Number(index)], ['value', jsonNumber(BigInt(mask!))], ['valueTwo', jsonNumber(BigInt(value!))], ['op', op]]);
    }
    return obj([['index', Number(index)], ['value', jsonNumber(BigInt(value!))], ['op', op!]]);
  });
  if (args.length > 0) rule.args = args;
  return rule;
}

export function ociRules(p: Policy): JsonObject[] {
  return interceptRules(p).map(ociRule);
}

/** Every rule oci-config may have written before: removed first, so a rerun replaces them. */
const OWN_RULES = new Set(
  ociRules({ ...EMPTY_POLICY, mknod: true, setxattr: true, mount: true, bpf: true, schedSetscheduler: true, sysinfo: true }).map((r) =>
    stringifyJson(r),
  ),
);

export interface OciConfigRequest {
  readonly bundle: string;
  readonly stateDir: string;
  readonly set: readonly string[];
  readonly unset: readonly string[];
}

export type OciConfigResult =
  | { readonly ok: true; readonly configPath: string; readonly policy: Policy; readonly metadata: string; readonly rules: number }
  | { readonly ok: false; readonly errors: string[] };

function fail(...errors: string[]): OciConfigResult {
  return { ok: false, errors };
}

/** The keys already in the bundle (its listenerMetadata), with --set and --unset applied. */
function mergedKeys(seccomp: JsonObject, req: OciConfigRequest): { config: Config } | { errors: string[] } {
  let config: Config = {};
  const current = seccomp.listenerMetadata;
  if (typeof current === 'string' && current.trim() !== '') {
    const parsed = parseMetadata(current);
    if (!parsed.ok) return { errors: [`the bundle's listenerMetadata is not interceptd's:`, ...parsed.errors] };
    config = parsed.config;
  }
  const errors = applyAssignments(config, req.set, req.unset, (key) =>
    key.startsWith(INTERCEPT) ? undefined : `"${key}" is not a ${INTERCEPT}* key (edit linux.seccomp for the rest)`,
  );
  return errors.length > 0 ? { errors } : { config };
}

export function ociConfig(req: OciConfigRequest): OciConfigResult {
  const configPath = path.join(req.bundle, 'config.json');
  let text: string;
  let st: fs.Stats;
  try {
    text = fs.readFileSync(configPath, 'utf8');
    st = fs.statSync(configPath);
  } catch (err) {
    return fail(`cannot read ${configPath}: ${(err as Error).message}`);
  }
  const doc = parseJson(text);
  if (!doc.ok) return fail(`${configPath}: not valid JSON: ${doc.error}`);
  const root = doc.value;
  if (!isJsonObject(root)) return fail(`${configPath}: not a JSON object`);
  if (root.linux !== undefined && !isJsonObject(root.linux)) return fail(`${configPath}: "linux" is not an object`);
  const hadLinux = root.linux !== undefined;
  const linux = root.linux ?? (root.linux = jsonObject());
  const created = linux.seccomp === undefined;
  if (!created && !isJsonObject(linux.seccomp)) return fail(`${configPath}: "linux.seccomp" is not an object`);
  const seccomp = (linux.seccomp ??= obj([
    ['defaultAction', 'SCMP_ACT_ALLOW'],
    ...(process.arch === 'x64' ? ([['architectures', X86_ARCHES]] as [string, JsonValue][]) : []),
  ])) as JsonObject;
  if (seccomp.syscalls !== undefined && !Array.isArray(seccomp.syscalls)) return fail(`${configPath}: "linux.seccomp.syscalls" is not an array`);

  const keys = mergedKeys(seccomp, req);
  if ('errors' in keys) return fail(...keys.errors);
  const parsed = parsePolicy(keys.config);
  if (!parsed.ok) return fail(...parsed.errors);
  const policy = parsed.policy;

  const socket = path.resolve(req.stateDir, OCI_SOCKET);
  if (Buffer.byteLength(socket) > 107) return fail(`socket path ${socket} is longer than 107 bytes`);
  const kept = (seccomp.syscalls ?? []).filter((r) => !OWN_RULES.has(stringifyJson(r)));
  const rules = ociRules(policy);
  if (seccomp.syscalls !== undefined || rules.length > 0) seccomp.syscalls = [...kept, ...rules];
  const metadata = formatMetadata(keys.config);
  if (needsInterception(policy)) {
    seccomp.listenerPath = socket;
    seccomp.listenerMetadata = metadata;
  } else if (seccomp.listenerPath === socket) {
    delete seccomp.listenerPath;
    delete seccomp.listenerMetadata;
  }
  // Nothing to intercept in a bundle that had no profile: leave it without one.
  if (created && rules.length === 0) {
    delete linux.seccomp;
    if (!hadLinux) delete root.linux;
  }

  const tmp = `${configPath}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${stringifyJson(root)}\n`, { mode: st.mode & 0o7777 });
  fs.chmodSync(tmp, st.mode & 0o7777);
  if (process.getuid?.() === 0) fs.chownSync(tmp, st.uid, st.gid);
  fs.renameSync(tmp, configPath);
  return { ok: true, configPath, policy, metadata, rules: rules.length };
}
