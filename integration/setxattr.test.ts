// setxattr trusted.overlay.opaque in a real unprivileged LXC container, including the
// call sequence Docker's overlay2 driver makes for an opaque directory.

import { execFileSync } from 'node:child_process';
import t from 'tap';
import { USER_ID } from './lib/lxc.js';
import { requireContainers, startScenario, type Scenario } from './lib/scenario.js';

/** The xattr as the host sees it (trusted.* is hidden inside the container). */
function hostXattr(path: string, name = 'trusted.overlay.opaque'): string {
  return execFileSync('python3', ['-c', 'import os,sys\ntry: print(os.getxattr(sys.argv[1], sys.argv[2]).decode())\nexcept OSError as e: print("errno", e.errno)', path, name], {
    encoding: 'utf8',
  }).trim();
}

if (requireContainers(t)) {
  let s: Scenario;
  t.before(async () => {
    s = await startScenario('itest-xattr', ['security.syscalls.intercept.setxattr=true', 'security.syscalls.intercept.mknod=true']);
    s.container.attach(['mkdir', '-p', '/var/lib/docker/overlay2/l1/diff/etc', '/tmp/x', '/tmp/userdir']);
    s.container.attach(['chown', `${USER_ID}:${USER_ID}`, '/tmp/userdir']);
  });
  t.teardown(() => s?.teardown());

  t.test("overlay2's opaque directory: mkdir, opaque marker, whiteout", async (t) => {
    const upper = '/var/lib/docker/overlay2/l1/diff';
    t.match(s.probe(['setxattr', `${upper}/etc`, 'trusted.overlay.opaque', 'y']), { ret: 0 }, 'opaque marker');
    t.match(s.probe(['mknod', `${upper}/removed-file`, 'c', '0', '0']), { ret: 0 }, 'whiteout');
    t.equal(hostXattr(s.container.hostPath(`${upper}/etc`)), 'y', 'visible on the host file');
    t.match(s.probe(['stat', `${upper}/removed-file`]), { type: 'c', major: 0, minor: 0 });
  });

  t.test('everything else gets the kernel answer', async (t) => {
    t.match(s.probe(['setxattr', '/tmp/x', 'trusted.overlay.opaque', 'n']), { err: 'EPERM' }, 'value n');
    t.match(s.probe(['setxattr', '/tmp/x', 'trusted.foo', 'y']), { err: 'EPERM' }, 'other trusted name');
    t.match(s.probe(['setxattr', '/tmp/x', 'trusted.overlay.opaque', 'yy']), { err: 'EPERM' }, 'size 2 (not notified)');
    t.match(s.probe(['setxattr', '/tmp/x', 'user.foo', 'y']), { ret: 0 }, 'user.* is allowed by the kernel');
    t.match(s.probe(['setxattr', '/tmp/missing', 'trusted.overlay.opaque', 'y']), { err: 'ENOENT' });
    t.equal(hostXattr(s.container.hostPath('/tmp/x')), 'errno 61', 'no opaque xattr was set (ENODATA)');
  });

  t.test('a caller without CAP_SYS_ADMIN is refused by the kernel', async (t) => {
    t.match(s.probe(['setxattr', '/tmp/userdir', 'trusted.overlay.opaque', 'y'], { uid: USER_ID, gid: USER_ID }), { err: 'EPERM' });
    t.equal(hostXattr(s.container.hostPath('/tmp/userdir')), 'errno 61');
  });

  t.test('flags are honoured', async (t) => {
    s.container.attach(['mkdir', '-p', '/tmp/flags']);
    t.match(s.probe(['setxattr', '/tmp/flags', 'trusted.overlay.opaque', 'y', '2']), { err: 'ENODATA' }, 'XATTR_REPLACE on a missing xattr');
    t.match(s.probe(['setxattr', '/tmp/flags', 'trusted.overlay.opaque', 'y', '1']), { ret: 0 }, 'XATTR_CREATE');
    t.match(s.probe(['setxattr', '/tmp/flags', 'trusted.overlay.opaque', 'y', '1']), { err: 'EEXIST' }, 'XATTR_CREATE again');
    t.match(s.probe(['setxattr', '/tmp/flags', 'trusted.overlay.opaque', 'y', '8']), { err: 'EINVAL' }, 'unknown flag');
  });

  t.test('paths stay inside the container; host-owned files are left to the kernel', async (t) => {
    s.container.attach(['mkdir', '-p', '/tmp/target-dir']);
    s.container.attach(['ln', '-sfn', '/../../../../../../tmp/target-dir', '/tmp/xesc']);
    t.match(s.probe(['setxattr', '/tmp/xesc', 'trusted.overlay.opaque', 'y']), { ret: 0 });
    t.equal(hostXattr(s.container.hostPath('/tmp/target-dir')), 'y', 'set on the container file the symlink names');
    t.equal(hostXattr('/tmp'), 'errno 61', "the host's /tmp is untouched");
    t.match(s.probe(['setxattr', '/dev/null', 'trusted.overlay.opaque', 'y']), { err: 'EPERM' }, '/dev/null belongs to host root');
    t.match(s.probe(['setxattr', 'rel-dir', 'trusted.overlay.opaque', 'y'], { cwd: '/tmp' }), { err: 'ENOENT' }, 'relative paths use the cwd');
    s.container.attach(['mkdir', '-p', '/tmp/rel-dir']);
    t.match(s.probe(['setxattr', 'rel-dir', 'trusted.overlay.opaque', 'y'], { cwd: '/tmp' }), { ret: 0 });
    t.equal(hostXattr(s.container.hostPath('/tmp/rel-dir')), 'y');
  });
}
