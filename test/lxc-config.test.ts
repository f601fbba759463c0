import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import YAML from 'yaml';
import { lxcConfig, profilePath, type LxcConfigRequest } from '../compat/lxc-config.js';
import { EMPTY_POLICY } from '../compat/keys.js';
import { generateProfile } from '../compat/profile.js';
import { policyFile } from '../compat/policy-source.js';

const I = 'security.syscalls.intercept.';

/** Only named in the socket path, never created: a fixture dir would make the path too long. */
const STATE = '/run/interceptd-test';

/** A request for container c1 with a fresh config dir. */
function request(t: { testdir(): string }, over: Partial<LxcConfigRequest> = {}): LxcConfigRequest {
  return {
    name: 'c1',
    configDir: path.join(t.testdir(), 'etc'),
    stateDir: STATE,
    set: [],
    unset: [],
    ...over,
  };
}

function readPolicyFile(req: LxcConfigRequest): unknown {
  return YAML.parse(fs.readFileSync(policyFile(req.configDir, req.name), 'utf8'));
}

/** Files under a directory, relative, sorted ([] when it does not exist). */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

t.test('with intercept keys: writes the policy and profile, returns the three lines', async (t) => {
  const req = request(t, { set: [`${I}mknod=true`, `${I}setxattr=yes`] });
  const r = lxcConfig(req);
  if (!r.ok) return t.fail(r.errors.join('; '));
  const profile = path.join(req.configDir, 'seccomp', 'c1');
  t.equal(r.policyPath, path.join(req.configDir, 'containers', 'c1.yaml'));
  t.equal(r.profilePath, profile);
  t.equal(profilePath(req.configDir, 'c1'), profile);
  t.same(r.lines, [
    `lxc.seccomp.profile = ${profile}`,
    'lxc.seccomp.notify.proxy = unix:/run/interceptd-test/seccomp.socket',
    'lxc.seccomp.notify.cookie = c1',
  ]);
  t.same(readPolicyFile(req), { [`${I}mknod`]: 'true', [`${I}setxattr`]: 'yes' });
  t.equal(fs.readFileSync(profile, 'utf8'), generateProfile(r.policy));
  t.match(fs.readFileSync(profile, 'utf8'), /^mknod notify /m);
  t.equal(r.policy.mknod, true);
  t.equal(r.policy.setxattr, true);
  t.same(filesUnder(req.configDir), ['containers/c1.yaml', 'seccomp/c1'], 'no temporary files left');
});

t.test('without intercept keys: only the profile line', async (t) => {
  const req = request(t, { set: ['security.syscalls.deny=ptrace errno 1'] });
  const r = lxcConfig(req);
  if (!r.ok) return t.fail(r.errors.join('; '));
  t.same(r.lines, [`lxc.seccomp.profile = ${r.profilePath}`]);
  t.match(fs.readFileSync(r.profilePath, 'utf8'), /\nptrace errno 1\n$/);

  const empty = request(t);
  const e = lxcConfig(empty);
  if (!e.ok) return t.fail(e.errors.join('; '));
  t.same(e.lines, [`lxc.seccomp.profile = ${e.profilePath}`]);
  t.same(readPolicyFile(empty), {});
  t.equal(fs.readFileSync(e.profilePath, 'utf8'), generateProfile(EMPTY_POLICY));
});

t.test('--set merges with the existing file', async (t) => {
  const req = request(t, { set: [`${I}mknod=true`, `${I}mount.allowed=ext4`] });
  t.ok(lxcConfig(req).ok);
  const r = lxcConfig({ ...req, set: [`${I}sysinfo=on`, `${I}mount.allowed=ext4,xfs`, `${I}mount.fuse=fuse.sshfs=sshfs`] });
  if (!r.ok) return t.fail(r.errors.join('; '));
  t.same(readPolicyFile(req), {
    [`${I}mknod`]: 'true',
    [`${I}mount.allowed`]: 'ext4,xfs',
    [`${I}mount.fuse`]: 'fuse.sshfs=sshfs',
    [`${I}sysinfo`]: 'on',
  });
  t.equal(r.policy.mknod, true, 'kept from the file');
  t.equal(r.policy.sysinfo, true, 'added');
  t.same(r.policy.mountAllowed, ['ext4', 'xfs'], 'replaced');
  t.same([...r.policy.mountFuse], [['fuse.sshfs', 'sshfs']], 'a value may contain "="');
  t.match(fs.readFileSync(r.profilePath, 'utf8'), /^sysinfo notify$/m, 'the profile is regenerated');
});

t.test('a hand-written policy file with YAML booleans is merged', async (t) => {
  const req = request(t);
  fs.mkdirSync(path.dirname(policyFile(req.configDir, 'c1')), { recursive: true });
  fs.writeFileSync(policyFile(req.configDir, 'c1'), `${I}bpf: true\n`);
  const r = lxcConfig({ ...req, set: [`${I}mknod=1`] });
  if (!r.ok) return t.fail(r.errors.join('; '));
  t.same(readPolicyFile(req), { [`${I}bpf`]: 'true', [`${I}mknod`]: '1' });
  t.equal(r.policy.bpf, true);
});

t.test('--unset removes a key', async (t) => {
  const req = request(t, { set: [`${I}mknod=true`, `${I}bpf=true`] });
  t.ok(lxcConfig(req).ok);
  const r = lxcConfig({ ...req, set: [], unset: [`${I}mknod`, `${I}bpf`] });
  if (!r.ok) return t.fail(r.errors.join('; '));
  t.same(readPolicyFile(req), {});
  t.same(r.lines, [`lxc.seccomp.profile = ${r.profilePath}`], 'no interception left');
  t.notMatch(fs.readFileSync(r.profilePath, 'utf8'), /notify/);
});

t.test('bad --set values are errors naming the key, and nothing is written', async (t) => {
  const cases: [string, string[], RegExp][] = [
    ['no "="', [`${I}mknod`], new RegExp(`^malformed --set "${I}mknod": expected KEY=VALUE$`)],
    ['empty key', ['=true'], /^malformed --set "=true"/],
    ['unknown key', [`${I}mount.allow=ext4`], new RegExp(`^unknown configuration key "${I}mount\\.allow"$`)],
    ['bad bool', [`${I}mknod=enabled`], new RegExp(`"${I}mknod"`)],
    ['fuse entry without "="', [`${I}mount.fuse=sshfs`], new RegExp(`"${I}mount\\.fuse"`)],
    ['type in allowed and fuse', [`${I}mount.allowed=ext4`, `${I}mount.fuse=ext4=fuse2fs`], /"ext4"/],
  ];
  for (const [name, set, error] of cases) {
    const req = request(t, { set });
    const r = lxcConfig(req);
    t.same(r.ok ? 'accepted' : r.errors.length, 1, name);
    t.match(r.ok ? 'accepted' : r.errors[0], error, name);
    t.same(filesUnder(req.configDir), [], `${name}: nothing written`);
  }
});

t.test('a bad --set leaves an existing policy untouched', async (t) => {
  const req = request(t, { set: [`${I}mknod=true`] });
  t.ok(lxcConfig(req).ok);
  const before = fs.readFileSync(policyFile(req.configDir, 'c1'), 'utf8');
  const profileBefore = fs.readFileSync(profilePath(req.configDir, 'c1'), 'utf8');
  const r = lxcConfig({ ...req, set: [`${I}bpf=true`, `${I}sysinfo=maybe`] });
  t.equal(r.ok, false);
  t.equal(fs.readFileSync(policyFile(req.configDir, 'c1'), 'utf8'), before);
  t.equal(fs.readFileSync(profilePath(req.configDir, 'c1'), 'utf8'), profileBefore);
});

t.test('an invalid existing policy file is reported, not overwritten', async (t) => {
  const req = request(t);
  const file = policyFile(req.configDir, 'c1');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '- not a map\n');
  const r = lxcConfig({ ...req, set: [`${I}mknod=true`] });
  t.same(r.ok ? [] : r.errors, [`${file}: not a map of configuration keys`]);
  t.equal(fs.readFileSync(file, 'utf8'), '- not a map\n');
});

t.test('invalid container names are refused', async (t) => {
  for (const name of ['../c1', 'a/b', '', '.c1', '-c1']) {
    const req = request(t, { name, set: [`${I}mknod=true`] });
    const r = lxcConfig(req);
    t.same(r.ok ? 'accepted' : r.errors, [`invalid container name "${name}"`], JSON.stringify(name));
    t.same(filesUnder(path.dirname(req.configDir)), [], `${JSON.stringify(name)}: nothing written`);
  }
});

t.test('a socket path longer than 107 bytes is refused', async (t) => {
  const fits = `/run/${'a'.repeat(107 - '/run/'.length - '/seccomp.socket'.length)}`;
  t.equal(Buffer.byteLength(path.join(fits, 'seccomp.socket')), 107);
  const ok = lxcConfig(request(t, { stateDir: fits, set: [`${I}mknod=true`] }));
  t.same(ok.ok ? ok.lines[1] : ok.errors, `lxc.seccomp.notify.proxy = unix:${fits}/seccomp.socket`, '107 bytes fit');

  const tooLong = `${fits}b`;
  const req = request(t, { stateDir: tooLong, set: [`${I}mknod=true`] });
  const r = lxcConfig(req);
  t.same(r.ok ? 'accepted' : r.errors, [`socket path ${tooLong}/seccomp.socket is longer than 107 bytes`]);
  t.same(filesUnder(req.configDir), [], 'nothing written');

  const multibyte = `/run/${'é'.repeat(44)}`;
  t.equal(multibyte.length + '/seccomp.socket'.length, 64, 'short in characters');
  t.equal(lxcConfig(request(t, { stateDir: multibyte, set: [`${I}mknod=true`] })).ok, false, 'but 108 bytes');
});
