import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import YAML from 'yaml';
import { parsePolicy, type Policy } from '../compat/keys.js';
import { generateProfile, interceptRules } from '../compat/profile.js';
import { SHARED } from './lib/vectors.js';

const LXD = path.join(SHARED, 'lxd-5.0.2');
const I = 'security.syscalls.intercept.';

function policyOf(config: Record<string, string>): Policy {
  const r = parsePolicy(config);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.policy;
}

/** The `security.syscalls.*` keys of an `lxc config show --expanded` capture. */
function syscallKeys(file: string): Record<string, string> {
  const doc = YAML.parse(fs.readFileSync(path.join(LXD, file), 'utf8')) as { config: Record<string, string> };
  return Object.fromEntries(Object.entries(doc.config).filter(([k]) => k.startsWith('security.syscalls.')));
}

const lxdOn = fs.readFileSync(path.join(LXD, 'seccomp-policy.intercept-on.txt'), 'utf8');
const lxdOff = fs.readFileSync(path.join(LXD, 'seccomp-policy.intercept-off.txt'), 'utf8');
const offLines = lxdOff.trimEnd().split('\n');

const SECCOMP_GUARD = [
  'seccomp errno 22 [1,2146435072,SCMP_CMP_MASKED_EQ,2146435072]',
  'seccomp errno 22 [1,8,SCMP_CMP_MASKED_EQ,8]',
];

// The one deliberate difference (README): only fsopen and fsconfig get ENOSYS, as in Incus.
const RELAXED = ['fsinfo', 'fsmount', 'fspick', 'open_tree', 'move_mount', 'openat2'].map((s) => `${s} errno 38`);

t.test('LXD 5.0.2 with interception on: byte for byte, but for the relaxed new-mount-API block', async (t) => {
  const keys = syscallKeys('config-expanded.intercept-on.yaml');
  t.same(Object.keys(keys).sort(), [
    `${I}bpf`,
    `${I}bpf.devices`,
    `${I}mknod`,
    `${I}mount`,
    `${I}mount.allowed`,
    `${I}mount.shift`,
    `${I}sched_setscheduler`,
    `${I}setxattr`,
  ]);
  const expected = lxdOn.split('\n').filter((l) => !RELAXED.includes(l)).join('\n');
  t.equal(lxdOn.split('\n').length - expected.split('\n').length, 6, 'six lines relaxed');
  t.equal(generateProfile(policyOf(keys)), expected);
});

t.test('LXD 5.0.2 with interception off: byte for byte', async (t) => {
  const keys = syscallKeys('config-expanded.intercept-off.yaml');
  t.same(keys, {});
  t.equal(generateProfile(policyOf(keys)), lxdOff);
  t.equal(lxdOff.endsWith('delete_module errno 38\n'), true, 'the capture ends where LXD stops');
});

t.test('sysinfo adds `sysinfo notify` right after setxattr', async (t) => {
  const lines = generateProfile(policyOf({ [`${I}setxattr`]: 'true', [`${I}sysinfo`]: 'true', [`${I}mount`]: 'true' }))
    .trimEnd()
    .split('\n');
  const at = lines.indexOf('setxattr notify [3,1,SCMP_CMP_EQ]');
  t.ok(at > 0);
  t.equal(lines[at + 1], 'sysinfo notify');
  t.equal(lines[at + 2], 'mount notify [3,0,SCMP_CMP_MASKED_EQ,18446744070422410016]');
  t.equal(lines.filter((l) => l === 'sysinfo notify').length, 1);
});

t.test('each key alone adds only its block and the seccomp guard', async (t) => {
  const blocks: Record<string, string[]> = {
    mknod: [
      'mknod notify [1,8192,SCMP_CMP_MASKED_EQ,61440]',
      'mknod notify [1,24576,SCMP_CMP_MASKED_EQ,61440]',
      'mknodat notify [2,8192,SCMP_CMP_MASKED_EQ,61440]',
      'mknodat notify [2,24576,SCMP_CMP_MASKED_EQ,61440]',
    ],
    sched_setscheduler: ['sched_setscheduler notify'],
    setxattr: ['setxattr notify [3,1,SCMP_CMP_EQ]'],
    sysinfo: ['sysinfo notify'],
    mount: [
      'mount notify [3,0,SCMP_CMP_MASKED_EQ,18446744070422410016]',
      ...['fsopen', 'fsconfig'].map((s) => `${s} errno 38`),
    ],
    bpf: ['bpf notify [0,5,SCMP_CMP_EQ]', 'bpf notify [0,8,SCMP_CMP_EQ]', 'bpf notify [0,9,SCMP_CMP_EQ]'],
  };
  for (const [key, block] of Object.entries(blocks)) {
    const text = generateProfile(policyOf({ [`${I}${key}`]: 'true' }));
    t.equal(text, [...offLines, ...SECCOMP_GUARD, ...block, ''].join('\n'), key);
  }
});

t.test('the per-call options alone change nothing', async (t) => {
  for (const [key, value] of [
    ['mount.allowed', 'ext4'],
    ['mount.fuse', 'ext4=fuse2fs'],
    ['mount.shift', 'true'],
    ['bpf.devices', 'true'],
  ] as const) {
    t.equal(generateProfile(policyOf({ [`${I}${key}`]: value })), lxdOff, key);
  }
  t.same(interceptRules(policyOf({ [`${I}mknod`]: 'false' })), []);
});

t.test('deny_default=false drops the default deny lines', async (t) => {
  t.equal(generateProfile(policyOf({ 'security.syscalls.deny_default': 'false' })), '2\ndenylist\n[all]\n');
  t.equal(
    generateProfile(policyOf({ 'security.syscalls.deny_default': 'false', [`${I}sysinfo`]: 'on' })),
    ['2', 'denylist', '[all]', ...SECCOMP_GUARD, 'sysinfo notify', ''].join('\n'),
  );
});

t.test('the deny text comes last, blank lines dropped', async (t) => {
  t.equal(
    generateProfile(policyOf({ 'security.syscalls.deny': 'mount errno 1\n\nptrace errno 1\n', [`${I}sysinfo`]: '1' })),
    [...offLines, ...SECCOMP_GUARD, 'sysinfo notify', 'mount errno 1', 'ptrace errno 1', ''].join('\n'),
  );
});

t.test('raw.seccomp replaces everything', async (t) => {
  const raw = '2\nallowlist\n[all]\nread\nwrite';
  t.equal(generateProfile(policyOf({ 'raw.seccomp': raw, [`${I}mknod`]: 'true' })), `${raw}\n`);
  t.equal(generateProfile(policyOf({ 'raw.seccomp': `${raw}\n` })), `${raw}\n`, 'an existing final newline is kept, not doubled');
});

t.test('allow mode writes an allowlist with the allow text, then the notify rules', async (t) => {
  t.equal(
    generateProfile(policyOf({ 'security.syscalls.allow': 'read\nwrite\n', [`${I}setxattr`]: 'true' })),
    ['2', 'allowlist', '[all]', 'read', 'write', ...SECCOMP_GUARD, 'setxattr notify [3,1,SCMP_CMP_EQ]', ''].join('\n'),
  );
  t.equal(generateProfile(policyOf({ 'security.syscalls.allow': 'read' })), '2\nallowlist\n[all]\nread\n');
});
