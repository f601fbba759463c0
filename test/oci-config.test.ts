// `oci-config` and the OCI policy keys: the rules are LXD's, translated; everything else in
// config.json survives; a rerun changes nothing.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { EMPTY_POLICY, parsePolicy, type Policy } from '../compat/keys.js';
import { parseJson, stringifyJson } from '../compat/json-text.js';
import { ociConfig, ociRule, ociRules } from '../compat/oci-config.js';
import { formatMetadata, parseMetadata, resolveOciPolicy } from '../compat/oci-policy.js';
import { OverridePolicySource, type PolicySource } from '../compat/policy-source.js';
import { interceptRules } from '../compat/profile.js';

const I = 'security.syscalls.intercept.';
const ALL_ON = [`${I}mknod=true`, `${I}setxattr=true`, `${I}mount=true`, `${I}bpf=true`, `${I}sched_setscheduler=true`, `${I}sysinfo=true`];

function policyOf(sets: string[]): Policy {
  const r = parsePolicy(Object.fromEntries(sets.map((s) => s.split('='))));
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.policy;
}

function bundle(t: Test, config: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'icd-bundle-'));
  fs.writeFileSync(path.join(dir, 'config.json'), config);
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const read = (dir: string): string => fs.readFileSync(path.join(dir, 'config.json'), 'utf8');


t.test("the rules of oci-seccomp-agent.md §6 (value = mask, valueTwo = expected for MASKED_EQ)", async (t) => {
  const plain = (line: string): unknown => JSON.parse(stringifyJson(ociRule(line)));
  t.same(plain('mknod notify [1,8192,SCMP_CMP_MASKED_EQ,61440]'), {
    names: ['mknod'],
    action: 'SCMP_ACT_NOTIFY',
    args: [{ index: 1, value: 61440, valueTwo: 8192, op: 'SCMP_CMP_MASKED_EQ' }],
  });
  t.same(plain('setxattr notify [3,1,SCMP_CMP_EQ]'), { names: ['setxattr'], action: 'SCMP_ACT_NOTIFY', args: [{ index: 3, value: 1, op: 'SCMP_CMP_EQ' }] });
  t.same(plain('sched_setscheduler notify'), { names: ['sched_setscheduler'], action: 'SCMP_ACT_NOTIFY' });
  t.same(plain('seccomp errno 22 [1,8,SCMP_CMP_MASKED_EQ,8]'), {
    names: ['seccomp'],
    action: 'SCMP_ACT_ERRNO',
    errnoRet: 22,
    args: [{ index: 1, value: 8, valueTwo: 8, op: 'SCMP_CMP_MASKED_EQ' }],
  });
  t.same(plain('fsopen errno 38'), { names: ['fsopen'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
  t.match(
    stringifyJson(ociRule('mount notify [3,0,SCMP_CMP_MASKED_EQ,18446744070422410016]')),
    /"value": 18446744070422410016,\s+"valueTwo": 0,/,
    'a 64-bit mask keeps every digit',
  );
  t.throws(() => ociRule('mknod allow'));
});

t.test('every key: one OCI rule per LXD rule, in the same order', async (t) => {
  for (const sets of [[`${I}mknod=true`], [`${I}setxattr=true`], [`${I}sysinfo=true`], [`${I}bpf=true`], [`${I}mount=true`], ALL_ON]) {
    const p = policyOf(sets);
    const lxd = interceptRules(p);
    const oci = ociRules(p);
    t.equal(oci.length, lxd.length, sets.join(' '));
    t.same(oci.map((r) => (r.names as string[])[0]), lxd.map((l) => l.split(' ')[0]));
  }
  t.same(ociRules(EMPTY_POLICY), [], 'no interception, no rules');
});

const FOREIGN = `{
  "ociVersion": "1.0.2-dev",
  "process": {"terminal": false, "args": ["sh"], "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 18446744073709551615, "soft": 1.50}]},
  "root": {"path": "rootfs"},
  "annotations": {"__proto__": "kept", "org.example": "x"},
  "x-unknown": [1, -0, 1e3, null, true, "\\u00e9\\n"],
  "linux": {
    "namespaces": [{"type": "user"}],
    "seccomp": {
      "defaultAction": "SCMP_ACT_ERRNO",
      "defaultErrnoRet": 1,
      "architectures": ["SCMP_ARCH_X86_64"],
      "flags": ["SECCOMP_FILTER_FLAG_LOG"],
      "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]
    }
  }
}
`;

t.test('everything else in config.json is preserved', async (t) => {
  const dir = bundle(t, FOREIGN);
  const r = ociConfig({ bundle: dir, stateDir: '/run/interceptd', set: [`${I}mknod=true`], unset: [] });
  if (!r.ok) return t.fail(r.errors.join('; '));
  const text = read(dir);
  t.match(text, /"hard": 18446744073709551615,/, 'a 64-bit rlimit keeps its digits');
  t.match(text, /"soft": 1.50\n/, 'a number keeps its spelling');
  t.match(text, /-0,\n\s+1e3,/);
  t.match(text, /"__proto__": "kept"/);
  const before = JSON.parse(FOREIGN) as Record<string, unknown>;
  const after = JSON.parse(text) as { linux: { seccomp: Record<string, unknown> } } & Record<string, unknown>;
  for (const key of ['ociVersion', 'process', 'root', 'x-unknown']) t.same(after[key], before[key], key);
  const seccomp = after.linux.seccomp;
  t.equal(seccomp.defaultAction, 'SCMP_ACT_ERRNO', 'the profile is extended, not replaced');
  t.same(seccomp.architectures, ['SCMP_ARCH_X86_64'], 'architectures untouched');
  t.same(seccomp.flags, ['SECCOMP_FILTER_FLAG_LOG']);
  t.same((seccomp.syscalls as unknown[])[0], { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' }, 'existing rules first');
  t.same(
    (seccomp.syscalls as unknown[]).slice(1),
    JSON.parse(stringifyJson(ociRules(policyOf([`${I}mknod=true`])))),
    'then the LXD rules, translated',
  );
  t.equal(seccomp.listenerPath, '/run/interceptd/oci.socket');
  t.equal(seccomp.listenerMetadata, `${I}mknod=true`);
});

t.test('a rerun changes nothing; keys merge with the bundle; off removes the rules', async (t) => {
  const dir = bundle(t, '{"ociVersion": "1.0.2", "linux": {}}\n');
  const req = { bundle: dir, stateDir: '/run/interceptd', set: [`${I}mknod=true`, `${I}setxattr=true`], unset: [] };
  t.ok(ociConfig(req).ok);
  const once = read(dir);
  t.ok(ociConfig(req).ok);
  t.equal(read(dir), once, 'idempotent');
  const seccomp = (JSON.parse(once) as { linux: { seccomp: Record<string, unknown> } }).linux.seccomp;
  t.equal(seccomp.defaultAction, 'SCMP_ACT_ALLOW', 'created with defaultAction ALLOW');
  t.same(seccomp.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);

  const more = ociConfig({ ...req, set: [`${I}sysinfo=true`] });
  if (!more.ok) return t.fail(more.errors.join('; '));
  t.equal(more.metadata, [`${I}mknod=true`, `${I}setxattr=true`, `${I}sysinfo=true`].join('\n'), 'earlier keys kept');
  t.equal(more.rules, ociRules(policyOf([`${I}mknod=true`, `${I}setxattr=true`, `${I}sysinfo=true`])).length);

  const off = ociConfig({ ...req, set: [`${I}mknod=false`, `${I}setxattr=false`, `${I}sysinfo=false`] });
  if (!off.ok) return t.fail(off.errors.join('; '));
  const offDoc = JSON.parse(read(dir)) as { linux: { seccomp: Record<string, unknown> } };
  t.same(offDoc.linux.seccomp.syscalls, [], 'its rules are gone');
  t.equal(offDoc.linux.seccomp.listenerPath, undefined);
  t.equal(offDoc.linux.seccomp.listenerMetadata, undefined);
});

t.test('nothing to intercept in a bundle without a profile: the file stays as it was', async (t) => {
  const dir = bundle(t, '{\n  "ociVersion": "1.0.2"\n}\n');
  t.ok(ociConfig({ bundle: dir, stateDir: '/run/interceptd', set: [], unset: [] }).ok);
  t.equal(read(dir), '{\n  "ociVersion": "1.0.2"\n}\n');
});

t.test('refusals name the problem and write nothing', async (t) => {
  const dir = bundle(t, '{"linux": {"seccomp": {"listenerMetadata": "MKNOD=/dev/null"}}}');
  const cases: [string[], RegExp][] = [
    [[`${I}mknod=maybe`], /not a boolean/],
    [['raw.seccomp=x'], /not a security\.syscalls\.intercept\.\* key/],
    [['nokey'], /expected KEY=VALUE/],
  ];
  const clean = bundle(t, '{}');
  for (const [set, re] of cases) {
    const r = ociConfig({ bundle: clean, stateDir: '/run/interceptd', set, unset: [] });
    t.match(r, { ok: false, errors: [re] }, set.join(' '));
  }
  t.equal(read(clean), '{}', 'unchanged');
  t.match(ociConfig({ bundle: dir, stateDir: '/run/i', set: [], unset: [] }), { ok: false, errors: [/not interceptd's/] }, "someone else's metadata");
  t.match(ociConfig({ bundle: bundle(t, '{"linux": '), stateDir: '/run/i', set: [], unset: [] }), { ok: false, errors: [/not valid JSON/] });
  t.match(ociConfig({ bundle: '/nonexistent-bundle', stateDir: '/run/i', set: [], unset: [] }), { ok: false, errors: [/cannot read/] });
  t.match(ociConfig({ bundle: clean, stateDir: `/${'x'.repeat(120)}`, set: [`${I}mknod=true`], unset: [] }), { ok: false, errors: [/longer than 107/] });
});

t.test('listenerMetadata: lines, semicolons or JSON', async (t) => {
  t.same(parseMetadata(`${I}mknod=true\n ${I}sysinfo = yes \n\n`), { ok: true, config: { [`${I}mknod`]: 'true', [`${I}sysinfo`]: 'yes' } });
  t.same(parseMetadata(`${I}mknod=true;${I}mount.allowed=ext4,xfs`), {
    ok: true,
    config: { [`${I}mknod`]: 'true', [`${I}mount.allowed`]: 'ext4,xfs' },
  });
  t.same(parseMetadata(`{"${I}mknod": true}`), { ok: true, config: { [`${I}mknod`]: 'true' } });
  t.match(parseMetadata('MKNOD=/dev/null'), { ok: false, errors: [/not a security\.syscalls\.intercept\.\* key/] });
  t.match(parseMetadata('{"a": '), { ok: false, errors: [/not valid JSON/] });
  t.match(parseMetadata('[1]'), { ok: false, errors: [/KEY=VALUE/] });
  t.match(parseMetadata(`{"${I}mknod": [1]}`), { ok: false });
  t.match(parseMetadata('__proto__=x'), { ok: false });
  t.equal(formatMetadata({ b: '1', a: '2' }), 'a=2\nb=1');
});

t.test('metadata wins over annotations, key by key; neither → the policy file', async (t) => {
  const both = resolveOciPolicy(`${I}mknod=false`, { [`interceptd.${I}mknod`]: 'true', [`${I}setxattr`]: 'true', 'org.other': 'x' });
  t.match(both, { kind: 'policy', source: 'listenerMetadata+annotations', policy: { mknod: false, setxattr: true } });
  t.match(resolveOciPolicy(undefined, { [`${I}sysinfo`]: 'on' }), { kind: 'policy', source: 'annotations', policy: { sysinfo: true } });
  t.same(resolveOciPolicy('', { 'org.other': 'x' }), { kind: 'none' });
  t.match(resolveOciPolicy('garbage', {}), { kind: 'invalid', errors: [/listenerMetadata/] });
  t.match(resolveOciPolicy(undefined, { 'interceptd.raw.seccomp': 'x' }), { kind: 'invalid', errors: [/annotations/] });
  t.match(resolveOciPolicy(`${I}mount.allowed=ext4`, { [`${I}mount.fuse`]: 'ext4=fuse2fs' }), { kind: 'invalid' }, 'combined keys are checked together');
});

t.test('per-container policies over the files: newest holder wins, released on close', async (t) => {
  const files: PolicySource = { lookup: () => EMPTY_POLICY, close: () => {} };
  const src = new OverridePolicySource(files);
  const on = { ...EMPTY_POLICY, mknod: true };
  const sys = { ...EMPTY_POLICY, sysinfo: true };
  const releaseInit = src.hold('c1', on);
  const releaseExec = src.hold('c1', sys);
  t.equal(src.lookup('c1'), sys);
  t.equal(src.lookup('c2'), EMPTY_POLICY, 'others fall back');
  releaseExec();
  t.equal(src.lookup('c1'), on);
  releaseInit();
  releaseInit();
  t.equal(src.lookup('c1'), EMPTY_POLICY);
  src.close();
});

t.test('lossless JSON: round trip and errors', async (t) => {
  const text = '{\n  "a": [\n    18446744073709551615,\n    {},\n    []\n  ],\n  "b": "\\u2028"\n}';
  const doc = parseJson(text);
  if (!doc.ok) return t.fail(doc.error);
  t.equal(stringifyJson(doc.value), JSON.stringify(JSON.parse(text), null, 2).replace('18446744073709552000', '18446744073709551615'));
  for (const bad of ['', '{', '{"a" 1}', '[1,]', '01', '{"a":1,}', 'tru', '[1] x', '"\u0001"']) t.match(parseJson(bad), { ok: false }, JSON.stringify(bad));
  t.match(parseJson('['.repeat(600) + ']'.repeat(600)), { ok: false, error: /too deep/ });
});
