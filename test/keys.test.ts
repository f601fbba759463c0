import t from 'tap';
import { EMPTY_POLICY, KNOWN_KEYS, needsInterception, parsePolicy, validateKey, type Policy } from '../compat/keys.js';

const I = 'security.syscalls.intercept.';

/** The errors of a config that must be refused. */
function errorsOf(config: Record<string, string>): string[] {
  const r = parsePolicy(config);
  if (r.ok) throw new Error(`accepted ${JSON.stringify(config)}`);
  return r.errors;
}

/** The single error of a config that must be refused for one reason. */
function oneError(config: Record<string, string>): string {
  const errors = errorsOf(config);
  if (errors.length !== 1) throw new Error(`expected one error, got ${JSON.stringify(errors)}`);
  return errors[0]!;
}

function policyOf(config: Record<string, string>): Policy {
  const r = parsePolicy(config);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.policy;
}

/** A value each key kind accepts. */
const SAMPLE: Record<string, string> = {
  bool: 'true',
  list: 'ext4,xfs',
  fuse: 'ext4=fuse2fs',
  text: 'kexec_load errno 38',
};

t.test('every known key is accepted with a value of its kind', async (t) => {
  t.equal(Object.keys(KNOWN_KEYS).length, 14);
  for (const [key, kind] of Object.entries(KNOWN_KEYS)) {
    t.equal(validateKey(key, SAMPLE[kind]!), undefined, key);
  }
});

t.test('booleans accept true/false/yes/no/on/off/1/0 in any case', async (t) => {
  const key = `${I}mknod`;
  for (const v of ['true', 'false', 'yes', 'no', 'on', 'off', '1', '0', 'TRUE', 'False', 'YeS', 'nO', 'ON', 'Off']) {
    t.equal(validateKey(key, v), undefined, v);
  }
  for (const v of ['true', 'TRUE', 'yes', 'On', '1']) t.equal(policyOf({ [key]: v }).mknod, true, `${v} enables`);
  for (const v of ['false', 'FALSE', 'no', 'Off', '0']) t.equal(policyOf({ [key]: v }).mknod, false, `${v} disables`);
});

t.test('booleans reject anything else, naming the key', async (t) => {
  const boolKeys = Object.entries(KNOWN_KEYS)
    .filter(([, kind]) => kind === 'bool')
    .map(([k]) => k);
  t.equal(boolKeys.length, 9);
  for (const key of boolKeys) {
    for (const v of ['enabled', 'y', 'n', '2', 'truee', ' true', '-1']) {
      const e = validateKey(key, v);
      t.match(e, `"${key}"`, `${key}=${JSON.stringify(v)}`);
    }
    t.match(oneError({ [key]: 'maybe' }), `"${key}"`, `${key}=maybe via parsePolicy`);
  }
});

t.test('unknown keys are rejected, naming the key', async (t) => {
  for (const key of [`${I}mount.allow`, `${I}mknodat`, 'security.syscalls.whitelist', 'limits.memory', '']) {
    t.equal(validateKey(key, 'true'), `unknown configuration key "${key}"`, key || '(empty)');
  }
  const errors = errorsOf({ [`${I}mount.allow`]: 'ext4', [`${I}mknod`]: 'true' });
  t.same(errors, [`unknown configuration key "${I}mount.allow"`]);
});

t.test('every problem of a config is reported', async (t) => {
  const errors = errorsOf({ [`${I}mknod`]: 'maybe', [`${I}bogus`]: 'true', [`${I}bpf`]: 'true' });
  t.equal(errors.length, 2);
  t.match(errors[0], `"${I}mknod"`);
  t.match(errors[1], `"${I}bogus"`);
});

t.test('mount.allowed is a comma list of filesystem types', async (t) => {
  const key = `${I}mount.allowed`;
  t.same(policyOf({ [key]: 'ext4, xfs,,btrfs ' }).mountAllowed, ['ext4', 'xfs', 'btrfs']);
  t.same(policyOf({ [key]: '' }).mountAllowed, []);
  t.match(validateKey(key, 'ext4,x y'), `"${key}"`);
  t.match(validateKey(key, 'ext4;xfs'), `"${key}"`);
});

t.test('mount.fuse entries must be fstype=binary', async (t) => {
  const key = `${I}mount.fuse`;
  const p = policyOf({ [key]: 'ext4=fuse2fs, sshfs = /usr/bin/sshfs' });
  t.same([...p.mountFuse], [
    ['ext4', 'fuse2fs'],
    ['sshfs', '/usr/bin/sshfs'],
  ]);
  for (const v of ['ext4', 'ext4=fuse2fs,xfs', '=fuse2fs', 'ext4=']) {
    const e = validateKey(key, v);
    t.match(e, `"${key}"`, v);
    t.match(e, 'fstype=fuse-binary', v);
  }
  t.match(oneError({ [key]: 'ext4' }), `"${key}"`, 'parsePolicy reports it too');
});

t.test('a type both mounted by the kernel and redirected to FUSE is rejected', async (t) => {
  const error = oneError({ [`${I}mount.allowed`]: 'xfs,ext4', [`${I}mount.fuse`]: 'ext4=fuse2fs' });
  t.match(error, '"ext4"');
  t.match(error, `"${I}mount.allowed"`);
  t.match(error, `"${I}mount.fuse"`);
  t.ok(parsePolicy({ [`${I}mount.allowed`]: 'xfs', [`${I}mount.fuse`]: 'ext4=fuse2fs' }).ok, 'disjoint sets are fine');
});

t.test('raw.seccomp excludes allow and deny', async (t) => {
  const raw = { 'raw.seccomp': '2\ndenylist\n' };
  t.match(oneError({ ...raw, 'security.syscalls.allow': 'read' }), /"raw\.seccomp"/);
  t.match(oneError({ ...raw, 'security.syscalls.deny': 'mount' }), /"raw\.seccomp"/);
  t.ok(parsePolicy(raw).ok, 'raw.seccomp alone is fine');
  t.ok(parsePolicy({ ...raw, [`${I}mknod`]: 'true' }).ok, 'raw.seccomp with an intercept key is fine');
});

t.test('allow excludes deny and deny_default', async (t) => {
  const allow = { 'security.syscalls.allow': 'read\nwrite' };
  t.match(oneError({ ...allow, 'security.syscalls.deny': 'mount' }), /"security\.syscalls\.allow"/);
  t.match(oneError({ ...allow, 'security.syscalls.deny_default': 'true' }), /"security\.syscalls\.allow"/);
  t.ok(parsePolicy(allow).ok, 'allow alone is fine');
  t.ok(parsePolicy({ 'security.syscalls.deny': 'mount', 'security.syscalls.deny_default': 'false' }).ok, 'deny with deny_default is fine');
});

t.test('defaults: an empty config is EMPTY_POLICY, with deny_default on', async (t) => {
  const p = policyOf({});
  t.same(p, EMPTY_POLICY);
  t.equal(EMPTY_POLICY.denyDefault, true);
  t.equal(needsInterception(EMPTY_POLICY), false);
  t.same(EMPTY_POLICY.mountAllowed, []);
  t.equal(EMPTY_POLICY.mountFuse.size, 0);
  t.equal(EMPTY_POLICY.rawSeccomp, '');
  t.ok(Object.isFrozen(EMPTY_POLICY));
  t.equal(policyOf({ 'security.syscalls.deny_default': 'false' }).denyDefault, false);
  t.equal(policyOf({ 'security.syscalls.deny_default': 'on' }).denyDefault, true);
});

t.test('each boolean key sets its own field only', async (t) => {
  const fields: [string, keyof Policy][] = [
    ['mknod', 'mknod'],
    ['setxattr', 'setxattr'],
    ['mount', 'mount'],
    ['mount.shift', 'mountShift'],
    ['bpf', 'bpf'],
    ['bpf.devices', 'bpfDevices'],
    ['sched_setscheduler', 'schedSetscheduler'],
    ['sysinfo', 'sysinfo'],
  ];
  for (const [key, field] of fields) {
    const p = policyOf({ [`${I}${key}`]: 'true' });
    t.same(p, { ...EMPTY_POLICY, [field]: true }, key);
  }
});

t.test('text keys are kept as written', async (t) => {
  t.equal(policyOf({ 'security.syscalls.deny': 'mount\numount2' }).deny, 'mount\numount2');
  t.equal(policyOf({ 'security.syscalls.allow': 'read' }).allow, 'read');
  t.equal(policyOf({ 'raw.seccomp': '2\nallowlist\n' }).rawSeccomp, '2\nallowlist\n');
});

t.test('needsInterception: the six notify keys, not the per-call options', async (t) => {
  for (const key of ['mknod', 'setxattr', 'mount', 'bpf', 'sched_setscheduler', 'sysinfo']) {
    t.equal(needsInterception(policyOf({ [`${I}${key}`]: 'yes' })), true, key);
    t.equal(needsInterception(policyOf({ [`${I}${key}`]: 'no' })), false, `${key}=no`);
  }
  for (const [key, v] of [
    ['mount.allowed', 'ext4'],
    ['mount.fuse', 'ext4=fuse2fs'],
    ['mount.shift', 'true'],
    ['bpf.devices', 'true'],
  ] as const) {
    t.equal(needsInterception(policyOf({ [`${I}${key}`]: v })), false, key);
  }
  t.equal(needsInterception(policyOf({ 'security.syscalls.deny_default': 'false', 'security.syscalls.deny': 'mount' })), false);
});
