import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { EMPTY_POLICY } from '../compat/keys.js';
import { FilePolicySource, parsePolicyText, policyFile, validContainerName, type PolicyLog } from '../compat/policy-source.js';

const I = 'security.syscalls.intercept.';

/** A log that records every call. */
function fakeLog(): PolicyLog & { calls: { level: 'warn' | 'info'; obj: object; msg: string }[] } {
  const calls: { level: 'warn' | 'info'; obj: object; msg: string }[] = [];
  return {
    calls,
    warn: (obj, msg) => calls.push({ level: 'warn', obj, msg }),
    info: (obj, msg) => calls.push({ level: 'info', obj, msg }),
  };
}

/** True once a lookup has logged a warning (polled: the lookup re-reads only after the watch event). */
function warned(src: FilePolicySource, log: ReturnType<typeof fakeLog>, name: string): boolean {
  src.lookup(name);
  return log.calls.some((c) => c.level === 'warn');
}

/** Polls `check` for up to 2 s: fs.watch events arrive asynchronously. */
async function eventually(check: () => boolean): Promise<boolean> {
  const end = Date.now() + 2000;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return check();
}

t.test('parsePolicyText: a YAML map of strings, booleans and numbers', async (t) => {
  const r = parsePolicyText(`${I}mknod: true\n${I}setxattr: "yes"\n${I}sysinfo: 1\n${I}mount.allowed: ext4,xfs\n`);
  if (!r.ok) return t.fail(r.errors.join('; '));
  t.equal(r.policy.mknod, true);
  t.equal(r.policy.setxattr, true);
  t.equal(r.policy.sysinfo, true);
  t.same(r.policy.mountAllowed, ['ext4', 'xfs']);
  t.equal(r.policy.bpf, false);
  const off = parsePolicyText(`${I}mknod: false\n${I}sysinfo: 0\n`);
  t.same(off.ok && [off.policy.mknod, off.policy.sysinfo], [false, false]);
});

t.test('parsePolicyText: an empty or comment-only file is no interception', async (t) => {
  for (const text of ['', '\n', '# nothing yet\n']) {
    const r = parsePolicyText(text);
    t.same(r.ok && r.policy, EMPTY_POLICY, JSON.stringify(text));
  }
});

t.test('parsePolicyText: errors', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['invalid YAML', `${I}mknod: [true\n`, /^not valid YAML: /],
    ['a list', `- ${I}mknod\n- ${I}setxattr\n`, /^not a map of configuration keys$/],
    ['a scalar', 'hello\n', /^not a map of configuration keys$/],
    ['a nested map', `${I}mknod:\n  enabled: true\n`, new RegExp(`^value of "${I}mknod" must be a string$`)],
    ['a list value', `${I}mount.allowed: [ext4, xfs]\n`, new RegExp(`^value of "${I}mount\\.allowed" must be a string$`)],
    ['a null value', `${I}mknod:\n`, new RegExp(`^value of "${I}mknod" must be a string$`)],
    ['an unknown key', `${I}mount.allow: ext4\n`, new RegExp(`^unknown configuration key "${I}mount\\.allow"$`)],
    ['a bad boolean', `${I}bpf: maybe\n`, new RegExp(`"${I}bpf"`)],
  ];
  for (const [name, text, error] of cases) {
    const r = parsePolicyText(text);
    t.same(r.ok ? 'accepted' : r.errors.length, 1, name);
    t.match(r.ok ? 'accepted' : r.errors[0], error, name);
  }
});

t.test('validContainerName', async (t) => {
  for (const name of ['c1', 'proj_c1', 'a.b-c', 'A', '9', 'x'.repeat(255)]) t.equal(validContainerName(name), true, name);
  for (const name of ['../x', '..', 'a/b', '/c1', '', '.x', '-x', '_x', 'a..b', 'a b', 'c1\0', 'c1\n', 'é', 'x'.repeat(256)]) {
    t.equal(validContainerName(name), false, JSON.stringify(name));
  }
});

t.test('policyFile', async (t) => {
  t.equal(policyFile('/etc/interceptd', 'c1'), '/etc/interceptd/containers/c1.yaml');
});

t.test('FilePolicySource: missing, written, changed', async (t) => {
  const dir = t.testdir();
  const log = fakeLog();
  const src = new FilePolicySource(dir, log);
  t.teardown(() => src.close());
  t.ok(fs.statSync(path.join(dir, 'containers')).isDirectory(), 'creates the containers directory');

  t.equal(src.lookup('c1'), EMPTY_POLICY, 'no file: no interception');
  t.same(log.calls, [], 'a missing file is not worth a log line');

  fs.writeFileSync(policyFile(dir, 'c1'), `${I}mknod: "true"\n`);
  t.ok(await eventually(() => src.lookup('c1').mknod), 'the new file is seen');
  t.same(src.lookup('c1'), { ...EMPTY_POLICY, mknod: true });
  t.match(log.calls, [{ level: 'info', obj: { container: 'c1' }, msg: 'policy loaded' }]);

  fs.writeFileSync(policyFile(dir, 'c1'), `${I}mknod: "false"\n${I}sysinfo: "true"\n`);
  t.ok(await eventually(() => src.lookup('c1').sysinfo), 'the changed file is seen');
  t.same(src.lookup('c1'), { ...EMPTY_POLICY, sysinfo: true });
  t.equal(log.calls.filter((c) => c.level === 'warn').length, 0);

  t.equal(src.lookup('c2'), EMPTY_POLICY, 'another container is unaffected');
});

t.test('FilePolicySource: an invalid rewrite keeps the last good policy and warns', async (t) => {
  const dir = t.testdir({ containers: { 'c1.yaml': `${I}setxattr: "on"\n` } });
  const log = fakeLog();
  const src = new FilePolicySource(dir, log);
  t.teardown(() => src.close());
  const good = src.lookup('c1');
  t.equal(good.setxattr, true);

  fs.writeFileSync(policyFile(dir, 'c1'), `${I}setxattr: "on"\n${I}mount.allow: ext4\n`);
  t.ok(await eventually(() => warned(src, log, 'c1')), 'a warning is logged');
  t.equal(src.lookup('c1'), good, 'the last good policy stays');
  const warns = log.calls.filter((c) => c.level === 'warn');
  t.equal(warns.length, 1, 'one warning, not one per lookup');
  t.match(warns[0], {
    msg: 'invalid policy file ignored; the previous policy stays',
    obj: { file: policyFile(dir, 'c1'), errors: [`unknown configuration key "${I}mount.allow"`] },
  });

  fs.writeFileSync(policyFile(dir, 'c1'), `${I}setxattr: "off"\n`);
  t.ok(await eventually(() => !src.lookup('c1').setxattr), 'a fixed file is seen again');
});

t.test('FilePolicySource: an invalid file never seen valid is no interception', async (t) => {
  const dir = t.testdir({ containers: { 'c1.yaml': `${I}mknod: perhaps\n` } });
  const log = fakeLog();
  const src = new FilePolicySource(dir, log);
  t.teardown(() => src.close());
  t.equal(src.lookup('c1'), EMPTY_POLICY);
  t.equal(log.calls.filter((c) => c.level === 'warn').length, 1);
});

t.test('FilePolicySource: a removed file is no interception, and stays so through an invalid rewrite', async (t) => {
  const dir = t.testdir({ containers: { 'c1.yaml': `${I}mknod: "true"\n` } });
  const log = fakeLog();
  const src = new FilePolicySource(dir, log);
  t.teardown(() => src.close());
  t.equal(src.lookup('c1').mknod, true);
  fs.rmSync(policyFile(dir, 'c1'));
  t.ok(await eventually(() => src.lookup('c1') === EMPTY_POLICY), 'removal switches interception off');
  fs.writeFileSync(policyFile(dir, 'c1'), `${I}mknod: perhaps\n`);
  t.ok(await eventually(() => warned(src, log, 'c1')), 'the invalid file is noticed');
  t.equal(src.lookup('c1'), EMPTY_POLICY, 'the policy from before the removal does not come back');
});

t.test('FilePolicySource: names that would leave the directory are not read', async (t) => {
  const dir = t.testdir({ 'secret.yaml': `${I}mknod: "true"\n`, containers: {} });
  const log = fakeLog();
  const src = new FilePolicySource(dir, log);
  t.teardown(() => src.close());
  t.equal(src.lookup('../secret'), EMPTY_POLICY);
  t.same(log.calls, []);
});

t.test('FilePolicySource: an unreadable policy is no interception, with a warning', async (t) => {
  const dir = t.testdir({ containers: { 'c1.yaml': {} } });
  const log = fakeLog();
  const src = new FilePolicySource(dir, log);
  t.teardown(() => src.close());
  t.equal(src.lookup('c1'), EMPTY_POLICY, 'a directory where the file should be');
  t.match(log.calls, [{ level: 'warn', msg: 'cannot read policy file', obj: { file: policyFile(dir, 'c1') } }]);
});

t.test('FilePolicySource: after close() every lookup reads the file', async (t) => {
  const dir = t.testdir({ containers: { 'c1.yaml': `${I}bpf: "true"\n` } });
  const src = new FilePolicySource(dir, fakeLog());
  t.equal(src.lookup('c1').bpf, true);
  src.close();
  src.close();
  fs.writeFileSync(policyFile(dir, 'c1'), `${I}bpf: "false"\n`);
  t.equal(src.lookup('c1').bpf, false, 'seen at once, without a watcher');
});
