// mount interception in a real unprivileged LXC container: an ext4 image on a loop
// device mounted by the kernel (plain or idmapped), or served by fuse2fs inside.

import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { TEST_ROOT } from './lib/lxc.js';
import { containerNode, copyWithLibs, deviceConfig, ext4Loop, type LoopImage } from './lib/blockdev.js';
import { requireContainers, startScenario, type Scenario } from './lib/scenario.js';

const I = 'security.syscalls.intercept.';

if (requireContainers(t)) {
  let s: Scenario;
  const loops: LoopImage[] = [];
  const sh = (cmd: string) => s.run(['sh', '-c', cmd]);
  const wait = () => new Promise((r) => setTimeout(r, 300));

  t.before(async () => {
    const dir = path.join(TEST_ROOT, 'scenarios', 'itest-mount-dev');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const a = ext4Loop(dir, 'kernel', { hello: 'hello from ext4\n' });
    const b = ext4Loop(dir, 'fuse', { hello: 'hello from fuse2fs\n' });
    loops.push(a, b);
    const config = [
      ...deviceConfig(containerNode(dir, 'testblk', 'b', a.major, a.minor), 'testblk', 'b', a.major, a.minor),
      ...deviceConfig(containerNode(dir, 'testfuse', 'b', b.major, b.minor), 'testfuse', 'b', b.major, b.minor),
      ...deviceConfig(containerNode(dir, 'fuse', 'c', 10, 229), 'fuse', 'c', 10, 229),
    ];
    s = await startScenario('itest-mount', [`${I}mount=true`, `${I}mount.allowed=ext4`], { config });
    copyWithLibs('/usr/bin/fuse2fs', s.container.rootfs);
    fs.rmSync(s.container.hostPath('/etc/mtab'), { force: true });
    fs.symlinkSync('/proc/self/mounts', s.container.hostPath('/etc/mtab'));
    sh('mkdir -p /mnt/e /mnt/f /mnt/t');
  });
  t.teardown(async () => {
    await s?.teardown();
    for (const l of loops) l.detach();
  });

  t.test('an allowed type is mounted by the host; files show the unmapped owner', async (t) => {
    const r = sh('mount -t ext4 /dev/testblk /mnt/e && cat /mnt/e/hello && stat -c %u:%g /mnt/e/hello');
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, /hello from ext4\n65534:65534/);
    t.not(sh('touch /mnt/e/new').status, 0, 'not writable by container root');
    t.equal(sh('umount /mnt/e').status, 0, 'the container can unmount it');
  });

  t.test('flags and data are honoured', async (t) => {
    const r = sh('mount -t ext4 -o ro,nosuid,nodev,noexec,noatime,errors=remount-ro /dev/testblk /mnt/e && grep " /mnt/e " /proc/self/mountinfo');
    t.equal(r.status, 0, r.stderr);
    const line = r.stdout;
    for (const opt of ['ro', 'nosuid', 'nodev', 'noexec', 'noatime']) t.match(line, new RegExp(`[ ,]${opt}[ ,]`), opt);
    t.match(line, /errors=remount-ro/, 'data option reached the filesystem');
    t.equal(sh('umount /mnt/e').status, 0);
  });

  t.test('with .shift=true the mount is idmapped: 0:0 inside and writable', async (t) => {
    s.setPolicy([`${I}mount.shift=true`]);
    await wait();
    const r = sh('mount -t ext4 /dev/testblk /mnt/e && stat -c %u:%g /mnt/e/hello && touch /mnt/e/new && stat -c %u:%g /mnt/e/new');
    t.equal(r.status, 0, r.stderr);
    t.equal(r.stdout, '0:0\n0:0\n');
    t.match(sh('grep " /mnt/e " /proc/self/mountinfo').stdout, /idmapped/);
    t.equal(sh('umount /mnt/e').status, 0);
    s.setPolicy([`${I}mount.shift=false`]);
    await wait();
  });

  t.test('types not listed, and interception off, get the kernel answer', async (t) => {
    // busybox says "permission denied (are you root?)" for EPERM.
    t.match(sh('mount -t ext2 /dev/testblk /mnt/e 2>&1; echo rc=$?').stdout, /(permission denied|not permitted)[\s\S]*rc=[1-9]/i);
    t.equal(sh('mount -t tmpfs none /mnt/t && umount /mnt/t').status, 0, 'tmpfs: allowed by the kernel in a user namespace');
    s.setPolicy([`${I}mount=false`]);
    await wait();
    t.match(sh('mount -t ext4 /dev/testblk /mnt/e 2>&1; echo rc=$?').stdout, /(permission denied|not permitted)[\s\S]*rc=[1-9]/i);
    s.setPolicy([`${I}mount=true`]);
    await wait();
  });

  t.test('a symlinked target resolves inside the container root', async (t) => {
    sh('mkdir -p /tmp/inside && ln -sfn /../../../../../tmp/inside /mnt/esc');
    const hostMounts = fs.readFileSync('/proc/self/mountinfo', 'utf8');
    const r = sh('mount -t ext4 /dev/testblk /mnt/esc && cat /tmp/inside/hello && umount /tmp/inside');
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, /hello from ext4/);
    t.equal(fs.readFileSync('/proc/self/mountinfo', 'utf8'), hostMounts, "nothing mounted in the host's namespace");
  });

  t.test('the new mount API: fsopen gets ENOSYS so mount(8) uses mount(2)', async (t) => {
    t.match(s.probe(['fsopen', 'ext4']), { err: 'ENOSYS' });
  });

  t.test('with .fuse=ext4=fuse2fs the mount is served by fuse2fs in the container', async (t) => {
    s.setPolicy([`${I}mount.allowed=`, `${I}mount.fuse=ext4=fuse2fs`]);
    await wait();
    const r = sh('mount -t ext4 /dev/testfuse /mnt/f && cat /mnt/f/hello && stat -c %u:%g /mnt/f/hello && grep " /mnt/f " /proc/self/mountinfo');
    t.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    t.match(r.stdout, /hello from fuse2fs\n0:0\n/);
    t.match(r.stdout, /fuse/, 'a FUSE mount');
    const fusePid = sh('pidof fuse2fs').stdout.trim();
    t.match(fusePid, /^\d+/, 'fuse2fs runs inside the container (visible in its pid namespace)');
    t.equal(sh('umount /mnt/f').status, 0);
  });
}
