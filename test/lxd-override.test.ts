// The raw.lxc override that switches an LXD container to interceptd, and how doctor
// tells who serves a container (pure text, no LXD).

import t from 'tap';
import { intercepts, lastProxy, lxcConfPath, lxdOwnProxy, overrideLine, serving } from '../compat/lxd/override.js';

const ours = 'unix:/run/interceptd/seccomp.socket';
const lxdOwn = 'unix:/var/lib/lxd/seccomp.socket';
const on = { 'security.syscalls.intercept.mknod': 'true' };

t.test('the override line and the last proxy line liblxc keeps', async (t) => {
  t.equal(overrideLine('/run/interceptd'), `lxc.seccomp.notify.proxy = ${ours}`);
  t.equal(lastProxy(''), undefined);
  t.equal(lastProxy('lxc.cap.drop = sys_resource\n'), undefined);
  const conf = `lxc.seccomp.profile = /var/lib/lxd/security/seccomp/c1\nlxc.seccomp.notify.proxy = ${lxdOwn}\nlxc.cap.drop = sys_resource\n  lxc.seccomp.notify.proxy=${ours}  \n`;
  t.equal(lastProxy(conf), ours, 'the raw.lxc line after LXD’s wins');
  t.equal(lastProxy('# lxc.seccomp.notify.proxy = unix:/x\n'), undefined, 'a comment is not a setting');
});

t.test('intercepts: any switch on, with LXD’s boolean spellings', async (t) => {
  t.equal(intercepts({}), false);
  t.equal(intercepts({ 'security.syscalls.intercept.mount.allowed': 'ext4' }), false, 'a per-call key alone is no switch');
  t.equal(intercepts({ 'security.syscalls.intercept.setxattr': 'YES' }), true);
  t.equal(intercepts({ 'security.syscalls.intercept.sysinfo': 'off' }), false);
});

t.test('serving: from the config and the lxc.conf the container started with', async (t) => {
  const raw = { ...on, 'raw.lxc': `lxc.cap.drop = sys_resource\nlxc.seccomp.notify.proxy = ${ours}` };
  const startedOurs = `lxc.seccomp.notify.proxy = ${lxdOwn}\nlxc.seccomp.notify.proxy = ${ours}\n`;
  const startedLxd = `lxc.seccomp.notify.proxy = ${lxdOwn}\n`;
  t.equal(serving({}, startedLxd, ours, lxdOwn), 'none');
  t.equal(serving(on, startedLxd, ours, lxdOwn), 'lxd');
  t.equal(serving(on, undefined, ours, lxdOwn), 'lxd', 'stopped, no override');
  t.equal(serving(raw, startedOurs, ours, lxdOwn), 'interceptd');
  t.equal(serving(raw, startedLxd, ours, lxdOwn), 'restart', 'override added while it ran');
  t.equal(serving(raw, undefined, ours, lxdOwn), 'restart', 'stopped: switched at its next start');
  t.equal(serving(on, startedOurs, ours, lxdOwn), 'interceptd', 'override removed while it ran: still ours until a restart');
  t.equal(serving({ ...on, 'raw.lxc': 'lxc.seccomp.notify.proxy = unix:/elsewhere.sock' }, undefined, ours, lxdOwn), 'elsewhere');
});

t.test('where LXD keeps things, per packaging', async (t) => {
  t.equal(lxcConfPath('/var/lib/lxd', 'c1'), '/var/log/lxd/c1/lxc.conf');
  t.equal(lxcConfPath('/var/lib/incus', 'p_c1'), '/var/log/incus/p_c1/lxc.conf');
  t.equal(lxcConfPath('/var/snap/lxd/common/lxd', 'c1'), '/var/snap/lxd/common/lxd/logs/c1/lxc.conf');
  t.equal(lxdOwnProxy('/var/lib/lxd'), lxdOwn);
  t.equal(lxdOwnProxy('/var/lib/incus'), 'unix:/run/incus/seccomp.socket');
});
