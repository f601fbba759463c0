// mknod/mknodat in a real unprivileged LXC container wired to a real interceptd:
// every case an operator would try, as it behaves on a privileged kernel.

import fs from 'node:fs';
import t from 'tap';
import { HOST_ROOT_ID, USER_ID } from './lib/lxc.js';
import { requireContainers, startScenario, type Scenario } from './lib/scenario.js';

const MKNOD_ON = 'security.syscalls.intercept.mknod=true';

if (requireContainers(t)) {
  let s: Scenario;
  t.before(async () => {
    s = await startScenario('itest-mknod', [MKNOD_ON]);
    s.container.attach(['mkdir', '-p', '/tmp/rel/a', '/tmp/fd-dir', '/tmp/userdir']);
    s.container.attach(['chown', `${USER_ID}:${USER_ID}`, '/tmp/userdir']);
  });
  t.teardown(() => s?.teardown());

  t.test('mknod /tmp/null c 1 3 creates a usable node owned by the caller', async (t) => {
    t.match(s.probe(['mknod', '/tmp/null', 'c', '1', '3']), { ret: 0 });
    t.match(s.probe(['stat', '/tmp/null']), { type: 'c', major: 1, minor: 3, uid: 0, gid: 0, mode: '0644' });
    t.match(s.probe(['writedev', '/tmp/null']), { ret: 5 }, 'echo > works');
    const host = fs.statSync(s.container.hostPath('/tmp/null'));
    t.equal(host.uid, HOST_ROOT_ID, 'host uid is container root');
    t.equal(host.gid, HOST_ROOT_ID);
  });

  t.test('every whitelisted character device is created', async (t) => {
    for (const [maj, min] of [[1, 5], [1, 7], [1, 8], [1, 9], [5, 0], [5, 1]] as const) {
      const p = `/tmp/dev-${maj}-${min}`;
      t.match(s.probe(['mknod', p, 'c', String(maj), String(min)]), { ret: 0 }, `c ${maj}:${min}`);
      t.match(s.probe(['stat', p]), { type: 'c', major: maj, minor: min });
    }
  });

  t.test('a whiteout (c 0:0) works: the kernel allows it', async (t) => {
    t.match(s.probe(['mknod', '/tmp/whiteout', 'c', '0', '0']), { ret: 0 });
    t.match(s.probe(['stat', '/tmp/whiteout']), { type: 'c', major: 0, minor: 0 });
  });

  t.test('block devices and other devices get the kernel answer', async (t) => {
    t.match(s.probe(['mknod', '/tmp/sda', 'b', '8', '0']), { ret: -1, err: 'EPERM' });
    t.match(s.probe(['mknod', '/tmp/tty1', 'c', '4', '1']), { ret: -1, err: 'EPERM' });
    t.match(s.probe(['mknod', '/tmp/mem', 'c', '1', '1']), { ret: -1, err: 'EPERM' });
    t.match(s.probe(['mknod', '/tmp/loop', 'b', '7', '0']), { ret: -1, err: 'EPERM' });
  });

  t.test('FIFOs never reach the daemon and work as usual', async (t) => {
    const before = s.daemon.logs.length;
    t.match(s.probe(['mknod', '/tmp/fifo', 'p', '0', '0']), { ret: 0 });
    t.notOk(
      s.daemon.logs.slice(before).some((l) => l.syscall === 'mknod'),
      'no notification for a FIFO',
    );
  });

  t.test('a path under /dev (a tmpfs the container owns) gives a usable node', async (t) => {
    t.match(s.probe(['mknod', '/dev/extra-null', 'c', '1', '3']), { ret: 0 });
    t.match(s.probe(['writedev', '/dev/extra-null']), { ret: 5 });
    t.match(s.probe(['stat', '/dev/extra-null']), { type: 'c', major: 1, minor: 3, uid: 0 });
  });

  t.test('relative paths resolve against the caller cwd', async (t) => {
    t.match(s.probe(['mknod', 'a/b', 'c', '1', '3'], { cwd: '/tmp/rel' }), { ret: 0 });
    t.match(s.probe(['stat', '/tmp/rel/a/b']), { type: 'c', major: 1, minor: 3 });
    t.match(s.probe(['stat', '/tmp/rel/a/a/b']), { err: 'ENOENT' }, 'not LXD\'s a/a/b');
    t.match(s.probe(['mknod', '../rel-up', 'c', '1', '3'], { cwd: '/tmp/rel' }), { ret: 0 });
    t.match(s.probe(['stat', '/tmp/rel-up']), { type: 'c' });
  });

  t.test('errors are the kernel errors', async (t) => {
    t.match(s.probe(['mknod', '/tmp/null', 'c', '1', '3']), { err: 'EEXIST' }, 'existing target');
    t.match(s.probe(['mknod', '/tmp/missing/x', 'c', '1', '3']), { err: 'ENOENT' }, 'missing parent');
    t.match(s.probe(['mknod', '/tmp/null/x', 'c', '1', '3']), { err: 'ENOTDIR' }, 'parent not a directory');
    t.match(s.probe(['mknod', '/tmp/', 'c', '1', '3']), { err: 'EEXIST' }, 'existing dir with trailing slash');
    t.match(s.probe(['mknod', '/tmp/nodir/', 'c', '1', '3']), { err: 'ENOENT' }, 'missing name with trailing slash');
    t.match(s.probe(['mknod', '/', 'c', '1', '3']), { err: 'EEXIST' }, 'root');
    t.match(s.probe(['badptr']), { err: 'EFAULT' }, 'unreadable path pointer');
    t.match(s.probe(['longpath']), { err: 'ENAMETOOLONG' }, 'no NUL within PATH_MAX');
  });

  t.test('symlinks cannot lead out of the container root', async (t) => {
    s.container.attach(['ln', '-sfn', '/../../../../../../tmp', '/tmp/esc']);
    s.container.attach(['ln', '-sfn', '/etc/passwd', '/tmp/link-final']);
    const hostTmpFile = '/tmp/interceptd-escape-check';
    fs.rmSync(hostTmpFile, { force: true });
    t.match(s.probe(['mknod', '/tmp/esc/interceptd-escape-check', 'c', '1', '3']), { ret: 0 });
    t.notOk(fs.existsSync(hostTmpFile), 'nothing created on the host');
    t.ok(fs.existsSync(s.container.hostPath(hostTmpFile)), 'created inside the container root');
    t.match(s.probe(['mknod', '/tmp/link-final', 'c', '1', '3']), { err: 'EEXIST' }, 'a final symlink is not followed');
    t.equal(fs.lstatSync(s.container.hostPath('/etc/passwd')).isFile(), true, 'symlink target untouched');
  });

  t.test('mknodat with a real dirfd resolves against that directory', async (t) => {
    t.match(s.probe(['mknodat', '/tmp/fd-dir', 'node', 'c', '1', '5']), { ret: 0 });
    t.match(s.probe(['stat', '/tmp/fd-dir/node']), { type: 'c', major: 1, minor: 5 });
    t.match(s.probe(['mknodat', '-', 'tmp/at-cwd', 'c', '1', '3'], { cwd: '/' }), { ret: 0 }, 'AT_FDCWD');
    t.match(s.probe(['stat', '/tmp/at-cwd']), { type: 'c' });
  });

  t.test("the caller's umask applies", async (t) => {
    t.match(s.probe(['umask', '077', 'mknod', '/tmp/umask077', 'c', '1', '3', '0666']), { ret: 0 });
    t.match(s.probe(['stat', '/tmp/umask077']), { mode: '0600' });
    t.match(s.probe(['umask', '000', 'mknod', '/tmp/umask000', 'c', '1', '3', '0666']), { ret: 0 });
    t.match(s.probe(['stat', '/tmp/umask000']), { mode: '0666' });
  });

  t.test('a non-root user without CAP_MKNOD is refused by the kernel', async (t) => {
    t.match(s.probe(['mknod', '/tmp/userdir/null', 'c', '1', '3'], { uid: USER_ID, gid: USER_ID }), { err: 'EPERM' });
  });

  t.test('calls from a non-leader thread are served', async (t) => {
    t.match(s.probe(['thread', 'mknod', '/tmp/from-thread', 'c', '1', '3']), { ret: 0, thread: true });
  });

  t.test('switching the policy off (file changed at runtime) gives EPERM again', async (t) => {
    s.setPolicy(['security.syscalls.intercept.mknod=false']);
    await new Promise((r) => setTimeout(r, 300));
    t.match(s.probe(['mknod', '/tmp/off', 'c', '1', '3']), { err: 'EPERM' });
    s.setPolicy([MKNOD_ON]);
    await new Promise((r) => setTimeout(r, 300));
    t.match(s.probe(['mknod', '/tmp/on-again', 'c', '1', '3']), { ret: 0 });
  });

  t.test('a daemon restart while the container runs: liblxc reconnects', async (t) => {
    await s.restartDaemon();
    t.match(s.probe(['mknod', '/tmp/after-restart', 'c', '1', '3']), { ret: 0 });
    t.match(s.probe(['mknod', '/tmp/after-restart-2', 'c', '1', '5']), { ret: 0 });
  });
}
