// `interceptd doctor`: verdicts and rendering for invented hosts (no kernel involved),
// the kernel-version gates, and the small parsers that turn host output into facts.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { CHECKS, evaluate, exitStatus, kernelAtLeast, kernelVersion, parseVersion, renderText, type CheckResult, type Facts } from '../src/doctor/checks.js';
import { cgroupFacts, extensionsIn, liblxcFromLdconfig, policyFacts } from '../src/doctor/host.js';

const ENOSYS = 38;
const EINVAL = 22;
const ECONNREFUSED = 111;

/** Debian 12 on its own kernel, with LXC, runc, crun and a running daemon. */
function healthy(): Facts {
  return {
    root: true,
    kernelRelease: '6.1.0-18-amd64',
    notifSizes: { notif: 80, resp: 24, data: 64 },
    pidfdOpen: { ok: true },
    pidfdThread: { ok: false, errno: EINVAL },
    mountSetattrErrno: EINVAL,
    maxUserNamespaces: 63704,
    lxc: {
      version: '5.0.2',
      library: '/lib/x86_64-linux-gnu/liblxc.so.1',
      extensions: ['seccomp_notify', 'seccomp_proxy_send_notify_fd', 'seccomp_notify_fd_active'],
    },
    runc: 'runc version 1.1.5+ds1',
    crun: 'crun version 1.8.1',
    cgroup: { v1: false, v2: 'root', v2Controllers: ['cpu', 'memory', 'pids'] },
    helper: { path: '/opt/icd/native/helper/interceptd-helper', file: { kind: 'file', uid: 0, mode: 0o755 }, executable: true },
    keeper: { path: '/opt/icd/native/helper/interceptd-keeper', file: { kind: 'file', uid: 0, mode: 0o755 }, executable: true },
    helperPing: { ok: true, ms: 12 },
    stateDir: { path: '/run/interceptd', file: { kind: 'dir', uid: 0, mode: 0o700 } },
    sockets: [
      { name: 'seccomp.socket', file: { kind: 'socket', uid: 0, mode: 0o600 } },
      { name: 'oci.socket', file: { kind: 'socket', uid: 0, mode: 0o600 } },
    ],
    daemon: { ok: true },
    configDir: { path: '/etc/interceptd', exists: true },
    policies: [{ file: 'c1.yaml', errors: [] }],
    lxdSockets: [],
  };
}

function host(changes: Partial<Facts>): Facts {
  return { ...healthy(), ...changes };
}

function result(results: CheckResult[], check: string): CheckResult {
  const r = results.find((x) => x.check === check);
  if (r === undefined) throw new Error(`no check named ${check}`);
  return r;
}

const REQUIRED = ['seccomp user notification', 'CONTINUE', 'pidfd_open', 'keeper binary', 'helper runnable'];

t.test('a healthy Debian 12 host: only PIDFD_THREAD warns (6.1 < 6.9), exit 0', async (t) => {
  const results = evaluate(healthy());
  t.same(
    results.filter((r) => r.verdict !== 'ok').map((r) => [r.check, r.verdict]),
    [['PIDFD_THREAD', 'warn']],
  );
  t.equal(exitStatus(results), 0);
  t.match(result(results, 'seccomp user notification').detail, /80\/24\/64/);
  t.match(result(results, 'PIDFD_THREAD').detail, /EINVAL/);
});

t.test('every check gives one result, in order, shaped {check, verdict, detail}', async (t) => {
  const results = evaluate(healthy());
  t.equal(results.length, CHECKS.length);
  t.same(
    results.map((r) => r.check),
    CHECKS.map((c) => c.name),
  );
  for (const r of results) t.same(Object.keys(r).sort(), ['check', 'detail', 'verdict']);
  t.same(JSON.parse(JSON.stringify(results)), results, 'JSON round trip');
});

t.test('kernel versions', async (t) => {
  t.same(kernelVersion('6.1.0-18-amd64'), [6, 1]);
  t.same(kernelVersion('5.15.0-91-generic'), [5, 15]);
  t.same(kernelVersion('garbage'), [0, 0]);
  t.ok(kernelAtLeast('5.5.0', 5, 5));
  t.ok(kernelAtLeast('5.5.0-rc1', 5, 5));
  t.notOk(kernelAtLeast('5.4.250', 5, 5));
  t.ok(kernelAtLeast('5.14.0', 5, 14));
  t.notOk(kernelAtLeast('5.13.19', 5, 14));
  t.ok(kernelAtLeast('6.1.0', 5, 14), 'a higher major beats any minor');
  t.notOk(kernelAtLeast('6.8.0', 6, 9));
  t.ok(kernelAtLeast('6.18.44-fc-v657', 6, 9), '18 > 9 numerically, not as text');
  t.ok(kernelAtLeast('10.0.0', 6, 9));
  t.notOk(kernelAtLeast('', 5, 0));
});

t.test('kernel gates: CONTINUE (5.5) is required, ADDFD (5.9) and ADDFD_FLAG_SEND (5.14) warn', async (t) => {
  const at = (release: string) => evaluate(host({ kernelRelease: release }));
  const v54 = at('5.4.0-150-generic');
  t.equal(result(v54, 'CONTINUE').verdict, 'FAIL');
  t.match(result(v54, 'CONTINUE').detail, /< 5\.5/);
  t.equal(result(v54, 'ADDFD').verdict, 'warn');
  t.equal(result(v54, 'ADDFD_FLAG_SEND').verdict, 'warn');
  t.equal(exitStatus(v54), 1);

  const v510 = at('5.10.0-28-amd64');
  t.equal(result(v510, 'CONTINUE').verdict, 'ok');
  t.equal(result(v510, 'ADDFD').verdict, 'ok');
  t.equal(result(v510, 'ADDFD_FLAG_SEND').verdict, 'warn');
  t.match(result(v510, 'ADDFD_FLAG_SEND').detail, /not atomic/);
  t.equal(exitStatus(v510), 0, 'warnings do not fail');

  const v514 = at('5.14.0');
  t.equal(result(v514, 'ADDFD_FLAG_SEND').verdict, 'ok');
});

t.test('PIDFD_THREAD: the probe decides; without a thread to try, the version does', async (t) => {
  t.equal(result(evaluate(host({ pidfdThread: { ok: true } })), 'PIDFD_THREAD').verdict, 'ok');
  t.equal(result(evaluate(host({ pidfdThread: undefined, kernelRelease: '6.9.0' })), 'PIDFD_THREAD').verdict, 'ok');
  const old = result(evaluate(host({ pidfdThread: undefined, kernelRelease: '6.8.12' })), 'PIDFD_THREAD');
  t.equal(old.verdict, 'warn');
  t.match(old.detail, /non-leader thread/);
});

t.test('seccomp user notification: a failed call or other struct sizes fail', async (t) => {
  const failed = evaluate(host({ notifSizes: { errno: EINVAL } }));
  t.equal(result(failed, 'seccomp user notification').verdict, 'FAIL');
  t.match(result(failed, 'seccomp user notification').detail, /EINVAL/);
  const odd = evaluate(host({ notifSizes: { notif: 88, resp: 24, data: 64 } }));
  t.equal(result(odd, 'seccomp user notification').verdict, 'FAIL');
  t.match(result(odd, 'seccomp user notification').detail, /88\/24\/64/);
  t.equal(exitStatus(odd), 1);
});

t.test('pidfd_open, the keeper and the helper are required', async (t) => {
  const noPidfd = evaluate(host({ pidfdOpen: { ok: false, errno: ENOSYS } }));
  t.equal(result(noPidfd, 'pidfd_open').verdict, 'FAIL');
  t.match(result(noPidfd, 'pidfd_open').detail, /ENOSYS/);

  const dead = evaluate(host({ helperPing: { ok: false, reason: 'helper exited (2): interceptd-helper: must run as root' } }));
  t.equal(result(dead, 'helper runnable').verdict, 'FAIL');
  t.match(result(dead, 'helper runnable').detail, /must run as root/);
  t.equal(exitStatus(dead), 1);

  const noKeeper = evaluate(host({ keeper: { path: '/x/interceptd-keeper', file: undefined, executable: false } }));
  t.equal(result(noKeeper, 'keeper binary').verdict, 'FAIL');
  t.match(result(noKeeper, 'keeper binary').detail, /missing/);

  const noHelper = evaluate(host({ helper: { path: '/x/interceptd-helper', file: undefined, executable: false } }));
  t.equal(result(noHelper, 'helper binary').verdict, 'warn', 'the binary line only explains; "helper runnable" fails');
  const notExec = evaluate(host({ helper: { path: '/x/h', file: { kind: 'file', uid: 0, mode: 0o644 }, executable: false } }));
  t.match(result(notExec, 'helper binary').detail, /not an executable/);
});

t.test('only the required checks can FAIL, however broken the host', async (t) => {
  const broken = host({
    root: false,
    kernelRelease: '4.19.0',
    notifSizes: { errno: EINVAL },
    pidfdOpen: { ok: false, errno: ENOSYS },
    pidfdThread: { ok: false, errno: EINVAL },
    mountSetattrErrno: ENOSYS,
    maxUserNamespaces: 0,
    lxc: { version: '3.0.3', library: '/usr/lib/liblxc.so.1', extensions: [] },
    runc: 'runc version 1.0.0-rc93',
    crun: undefined,
    cgroup: { v1: false, v2: undefined, v2Controllers: [] },
    helper: { path: '/h', file: undefined, executable: false },
    keeper: { path: '/k', file: { kind: 'dir', uid: 0, mode: 0o755 }, executable: true },
    helperPing: { ok: false, reason: 'not found' },
    stateDir: { path: '/run/interceptd', file: { kind: 'dir', uid: 1000, mode: 0o777 } },
    sockets: [{ name: 'seccomp.socket', file: { kind: 'socket', uid: 1000, mode: 0o666 } }],
    daemon: { ok: false, errno: ECONNREFUSED },
    configDir: { path: '/etc/interceptd', exists: true },
    policies: [{ file: 'bad.yaml', errors: ['not valid YAML'] }],
  });
  const results = evaluate(broken);
  t.same(results.filter((r) => r.verdict === 'FAIL').map((r) => r.check).sort(), [...REQUIRED].sort());
  t.notOk(results.some((r) => r.verdict === 'ok' && r.check !== 'LXD/Incus'), 'everything else warns');
  t.equal(exitStatus(results), 1);
});

t.test('idmapped mounts: ENOSYS means absent, EINVAL or EBADF present, anything else is blocked', async (t) => {
  t.equal(result(evaluate(host({ mountSetattrErrno: EINVAL })), 'idmapped mounts').verdict, 'ok');
  t.equal(result(evaluate(host({ mountSetattrErrno: 9 })), 'idmapped mounts').verdict, 'ok');
  const absent = result(evaluate(host({ mountSetattrErrno: ENOSYS })), 'idmapped mounts');
  t.equal(absent.verdict, 'warn');
  t.match(absent.detail, /mount\.shift/);
  t.match(result(evaluate(host({ mountSetattrErrno: 1 })), 'idmapped mounts').detail, /EPERM/);
});

t.test('user namespaces', async (t) => {
  t.equal(result(evaluate(host({ maxUserNamespaces: 0 })), 'user namespaces').verdict, 'warn');
  t.equal(result(evaluate(host({ maxUserNamespaces: undefined })), 'user namespaces').verdict, 'warn');
});

t.test('liblxc: absent, too old, or without the seccomp API extensions warns', async (t) => {
  const none = evaluate(host({ lxc: { version: undefined, library: undefined, extensions: [] } }));
  t.equal(result(none, 'liblxc').verdict, 'warn');
  t.match(result(none, 'liblxc').detail, /only OCI/);
  t.equal(result(none, 'liblxc seccomp API').verdict, 'warn');

  const v404 = result(evaluate(host({ lxc: { ...healthy().lxc, version: '4.0.4' } })), 'liblxc');
  t.equal(v404.verdict, 'warn');
  t.match(v404.detail, /4\.0\.5/);
  t.equal(result(evaluate(host({ lxc: { ...healthy().lxc, version: '4.0.12' } })), 'liblxc').verdict, 'ok');
  t.match(result(evaluate(host({ lxc: { ...healthy().lxc, version: '3.0.3' } })), 'liblxc').detail, /no seccomp proxy/);

  const partial = result(evaluate(host({ lxc: { ...healthy().lxc, extensions: ['seccomp_notify'] } })), 'liblxc seccomp API');
  t.equal(partial.verdict, 'warn');
  t.equal(partial.detail, 'missing: seccomp_proxy_send_notify_fd, seccomp_notify_fd_active');
});

t.test('runc and crun only ever warn', async (t) => {
  const none = evaluate(host({ runc: undefined, crun: undefined }));
  t.equal(result(none, 'runc').verdict, 'warn');
  t.equal(result(none, 'crun').verdict, 'warn');
  t.equal(exitStatus(none), 0);
  t.match(result(evaluate(host({ runc: 'runc version 1.0.3' })), 'runc').detail, /≥ 1\.1/);
  t.equal(result(evaluate(host({ runc: 'runc version 1.2.0' })), 'runc').verdict, 'ok');
});

t.test('cgroup layouts, and crun on hybrid hosts', async (t) => {
  const v2 = evaluate(healthy());
  t.match(result(v2, 'cgroup layout').detail, /^v2 \(controllers: cpu memory pids\)/);
  t.equal(result(v2, 'crun').verdict, 'ok');

  const hybrid = evaluate(host({ cgroup: { v1: true, v2: 'unified', v2Controllers: ['hugetlb'] } }));
  t.match(result(hybrid, 'cgroup layout').detail, /^hybrid/);
  t.equal(result(hybrid, 'cgroup layout').verdict, 'ok');
  t.equal(result(hybrid, 'crun').verdict, 'warn');
  t.match(result(hybrid, 'crun').detail, /hybrid.*hugetlb/);

  const emptyHybrid = evaluate(host({ cgroup: { v1: true, v2: 'unified', v2Controllers: [] } }));
  t.equal(result(emptyHybrid, 'crun').verdict, 'ok', 'crun runs when cgroup2 has no controller');

  t.match(result(evaluate(host({ cgroup: { v1: true, v2: undefined, v2Controllers: [] } })), 'cgroup layout').detail, /^v1/);
  t.equal(result(evaluate(host({ cgroup: { v1: false, v2: undefined, v2Controllers: [] } })), 'cgroup layout').verdict, 'warn');
});

t.test('state dir and sockets: root and 0700 / 0600, or a warning that says what is wrong', async (t) => {
  t.equal(result(evaluate(host({ stateDir: { path: '/run/x', file: undefined } })), 'state dir').verdict, 'ok');
  const open = result(evaluate(host({ stateDir: { path: '/run/x', file: { kind: 'dir', uid: 0, mode: 0o755 } } })), 'state dir');
  t.equal(open.verdict, 'warn');
  t.match(open.detail, /0755/);
  t.match(result(evaluate(host({ stateDir: { path: '/run/x', file: { kind: 'dir', uid: 1000, mode: 0o700 } } })), 'state dir').detail, /uid 1000/);
  t.match(result(evaluate(host({ stateDir: { path: '/run/x', file: { kind: 'file', uid: 0, mode: 0o600 } } })), 'state dir').detail, /not a directory/);

  const sockets = result(
    evaluate(
      host({
        sockets: [
          { name: 'seccomp.socket', file: { kind: 'socket', uid: 0, mode: 0o600 } },
          { name: 'control.socket', file: { kind: 'socket', uid: 1000, mode: 0o666 } },
        ],
      }),
    ),
    'sockets',
  );
  t.equal(sockets.verdict, 'warn');
  t.equal(sockets.detail, 'control.socket: mode 0666, owner uid 1000 (should be 0600, root)');
  t.equal(result(evaluate(host({ sockets: [] })), 'sockets').verdict, 'ok');
  t.equal(result(evaluate(healthy()), 'sockets').detail, 'seccomp.socket, oci.socket: 0600, root');
});

t.test('daemon: not listening warns with the errno', async (t) => {
  const r = result(evaluate(host({ daemon: { ok: false, errno: ECONNREFUSED } })), 'daemon');
  t.equal(r.verdict, 'warn');
  t.match(r.detail, /ECONNREFUSED/);
});

t.test('policies: bad files are named with their errors', async (t) => {
  const r = result(
    evaluate(
      host({
        policies: [
          { file: 'a.yaml', errors: [] },
          { file: 'b.yaml', errors: ['unknown key "security.syscalls.intercept.nope"'] },
        ],
      }),
    ),
    'policies',
  );
  t.equal(r.verdict, 'warn');
  t.equal(r.detail, '1 of 2 do not parse: b.yaml (unknown key "security.syscalls.intercept.nope")');
  t.equal(result(evaluate(host({ configDir: { path: '/etc/x', exists: false }, policies: [] })), 'policies').verdict, 'warn');
});

t.test('LXD: who serves each intercepting container, and whether the switch is complete', async (t) => {
  const socket = '/var/lib/lxd/unix.socket';
  const line = 'lxc.seccomp.notify.proxy = unix:/run/interceptd/seccomp.socket';
  const lxd = (containers: { name: string; serving: 'lxd' | 'interceptd' | 'restart' | 'elsewhere' }[], daemonFollows: boolean | undefined = true) =>
    result(evaluate(host({ lxdSockets: [socket], lxd: { socket, reachable: true, containers, daemonFollows, line } })), 'LXD/Incus');
  t.same(result(evaluate(healthy()), 'LXD/Incus'), { check: 'LXD/Incus', verdict: 'ok', detail: 'none found' });
  t.equal(lxd([]).detail, `${socket}: no container intercepts syscalls`);
  const mixed = lxd([
    { name: 'c1', serving: 'interceptd' },
    { name: 'c2', serving: 'lxd' },
  ]);
  t.equal(mixed.verdict, 'ok', 'LXD serving some containers itself is a choice, not a problem');
  t.match(mixed.detail, /served by interceptd: c1; by LXD itself: c2 \(to switch: raw\.lxc "lxc\.seccomp\.notify\.proxy = unix:\/run\/interceptd\/seccomp\.socket", then restart\)/);
  const pending = lxd([{ name: 'c3', serving: 'restart' }]);
  t.equal(pending.verdict, 'warn');
  t.match(pending.detail, /c3: the override is set but the running container predates it \(restart it\)/);
  t.match(lxd([{ name: 'c4', serving: 'elsewhere' }]).detail, /c4: notifications go to another socket/);
  const noFollow = lxd([{ name: 'c1', serving: 'interceptd' }], false);
  t.equal(noFollow.verdict, 'warn');
  t.match(noFollow.detail, /without --lxd-socket/);
  t.equal(lxd([{ name: 'c1', serving: 'interceptd' }], undefined).verdict, 'ok', 'no daemon to ask: nothing to say about it');
  const down = result(evaluate(host({ lxdSockets: [socket], lxd: { socket, reachable: false, error: 'connection refused' } })), 'LXD/Incus');
  t.same([down.verdict, down.detail], ['warn', `cannot read ${socket}: connection refused`]);
});

t.test('text: one aligned line per check, then a summary', async (t) => {
  const ok = renderText(evaluate(healthy())).split('\n');
  t.equal(ok.length, CHECKS.length + 2);
  t.equal(ok[CHECKS.length], '');
  t.equal(ok.at(-1), 'ready (1 warning)');
  t.match(ok[0], /^ok {4}root {2,}running as root$/);
  const col = ok[0]!.indexOf('running');
  t.equal(ok[1]!.indexOf('SECCOMP_GET_NOTIF_SIZES'), col, 'details start in one column');
  t.match(ok.find((l) => l.includes('PIDFD_THREAD')), /^warn {2}PIDFD_THREAD/);

  const bad = renderText(evaluate(host({ kernelRelease: '5.4.0', helperPing: { ok: false, reason: 'x' } }))).split('\n');
  t.equal(bad.at(-1), '2 required checks failed, 3 warnings');
  t.match(bad.find((l) => l.includes('CONTINUE')), /^FAIL {2}CONTINUE/);
});

t.test('parseVersion reads the first dotted number of a tool', async (t) => {
  t.same(parseVersion('runc version 1.1.5+ds1'), [1, 1, 5]);
  t.same(parseVersion('crun version 1.8.1'), [1, 8, 1]);
  t.same(parseVersion('5.0.2'), [5, 0, 2]);
  t.same(parseVersion('6.0'), [6, 0, 0]);
  t.equal(parseVersion('no digits'), undefined);
  t.equal(parseVersion(undefined), undefined);
});

t.test('liblxc from ldconfig -p: the x86-64 entry wins', async (t) => {
  const text = [
    '1234 libs found in cache `/etc/ld.so.cache\'',
    '\tliblxc.so.1 (libc6) => /usr/lib/i386-linux-gnu/liblxc.so.1',
    '\tliblxc.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/liblxc.so.1',
    '\tliblxcfs.so (libc6,x86-64) => /lib/x86_64-linux-gnu/liblxcfs.so',
  ].join('\n');
  t.equal(liblxcFromLdconfig(text), '/lib/x86_64-linux-gnu/liblxc.so.1');
  t.equal(liblxcFromLdconfig('\tliblxc.so.1 (libc6) => /usr/lib/liblxc.so.1\n'), '/usr/lib/liblxc.so.1');
  t.equal(liblxcFromLdconfig('\tlibc.so.6 (libc6,x86-64) => /lib/libc.so.6\n'), undefined);
});

t.test('API extensions count only as whole strings in the library', async (t) => {
  const lib = Buffer.from('\0\x7fELF\0mount_injection\0seccomp_notify\0lxc_seccomp_notify_fd_active_x\0seccomp_proxy_send_notify_fd\0', 'latin1');
  t.same(extensionsIn(lib), ['seccomp_notify', 'seccomp_proxy_send_notify_fd']);
  t.same(extensionsIn(Buffer.from('seccomp_notify_fd_active')), [], 'no NULs around it: not a string of its own');
});

t.test('cgroup layouts read from a directory tree', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'icd-doctor-cg-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const make = (name: string, files: Record<string, string>) => {
    const base = path.join(root, name);
    for (const [f, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(base, f)), { recursive: true });
      fs.writeFileSync(path.join(base, f), text);
    }
    return base;
  };
  const v2 = make('v2', { 'cgroup.controllers': 'cpuset cpu io memory pids\n', 'cgroup.procs': '' });
  t.same(cgroupFacts(v2), { v1: false, v2: 'root', v2Controllers: ['cpuset', 'cpu', 'io', 'memory', 'pids'] });
  const hybrid = make('hybrid', { 'memory/cgroup.procs': '', 'unified/cgroup.controllers': '\n', 'unified/cgroup.procs': '' });
  t.same(cgroupFacts(hybrid), { v1: true, v2: 'unified', v2Controllers: [] });
  const v1 = make('v1', { 'memory/cgroup.procs': '', 'pids/cgroup.procs': '' });
  t.same(cgroupFacts(v1), { v1: true, v2: undefined, v2Controllers: [] });
  t.same(cgroupFacts(path.join(root, 'missing')), { v1: false, v2: undefined, v2Controllers: [] });
});

t.test('policy files are parsed one by one and the bad ones named', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'icd-doctor-conf-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'containers'));
  fs.writeFileSync(path.join(dir, 'containers', 'good.yaml'), 'security.syscalls.intercept.mknod: "true"\n');
  fs.writeFileSync(path.join(dir, 'containers', 'typo.yaml'), 'security.syscalls.intercept.mknodd: "true"\n');
  fs.writeFileSync(path.join(dir, 'containers', 'broken.yaml'), 'a: [\n');
  fs.writeFileSync(path.join(dir, 'containers', 'notes.txt'), 'not a policy');
  fs.writeFileSync(path.join(dir, 'containers', '.hidden.yaml'), 'security.syscalls.intercept.mknod: "true"\n');
  const facts = policyFacts(dir);
  t.same(
    facts.map((p) => p.file),
    ['.hidden.yaml', 'broken.yaml', 'good.yaml', 'typo.yaml'],
  );
  t.match(facts[0]!.errors.join(), /not a container name/);
  t.same(facts.find((p) => p.file === 'good.yaml')!.errors, []);
  t.match(facts.find((p) => p.file === 'broken.yaml')!.errors.join(), /YAML/);
  t.match(facts.find((p) => p.file === 'typo.yaml')!.errors.join(), /mknodd/);
  t.same(policyFacts(path.join(dir, 'missing')), []);
});
