// Every row of the setxattr and sched_setscheduler decision tables, without a kernel.

import t from 'tap';
import { EMPTY_POLICY } from '../compat/keys.js';
import { encodeSched, encodeSetxattr, HELPER_MAX_GROUPS } from '../protocol/helper-wire.js';
import { parseIdMap, toInside } from '../protocol/idmap.js';
import { CAP_SYS_ADMIN, CAP_SYS_NICE, capBit, type TaskStatus } from '../protocol/proc-status.js';
import { decideAttribute, decideCaller, decideRegisters, setxattrArgs } from '../src/handlers/setxattr.js';
import { decideSched, schedArgs } from '../src/handlers/sched.js';

const on = { ...EMPTY_POLICY, setxattr: true, schedSetscheduler: true };
const status = (capEff: bigint): TaskStatus => ({
  tgid: 1, euid: 100000, fsuid: 100000, egid: 100000, fsgid: 100000, groups: [], umask: 0o22, capEff, nspid: [1],
});

t.test('setxattr: registers narrowed per ABI', async (t) => {
  const raw = [0xdead_0000_1000n, 0xdead_0000_2000n, 0xdead_0000_3000n, 0xffff_ffff_0000_0001n, 0xffff_ffff_0000_0002n, 0n];
  t.same(setxattrArgs('i386', raw), { pathPtr: 0x1000n, namePtr: 0x2000n, valuePtr: 0x3000n, size: 1n, flags: 2 });
  const x = setxattrArgs('x86_64', raw);
  t.equal(x.size, 0xffff_ffff_0000_0001n, 'size_t is 64-bit natively');
  t.equal(x.flags, 2, 'flags is an int');
});

t.test('setxattr: register rule', async (t) => {
  const a = { pathPtr: 1n, namePtr: 2n, valuePtr: 3n, size: 1n, flags: 0 };
  t.match(decideRegisters(a, EMPTY_POLICY), { kind: 'decline', reason: /off/ });
  t.match(decideRegisters({ ...a, size: 2n }, on), { kind: 'decline', reason: /1 byte/ });
  t.match(decideRegisters({ ...a, size: 0n }, on), { kind: 'decline' });
  t.match(decideRegisters({ ...a, flags: 4 }, on), { kind: 'decline', reason: /flags/ });
  for (const flags of [0, 1, 2, 3]) t.same(decideRegisters({ ...a, flags }, on), { kind: 'emulate' }, `flags ${flags}`);
});

t.test('setxattr: attribute rule', async (t) => {
  t.same(decideAttribute(Buffer.from('trusted.overlay.opaque'), Buffer.from('y')), { kind: 'emulate' });
  t.match(decideAttribute(Buffer.from('trusted.overlay.opaque'), Buffer.from('n')), { kind: 'decline' });
  t.match(decideAttribute(Buffer.from('trusted.overlay.opaquE'), Buffer.from('y')), { kind: 'decline' });
  t.match(decideAttribute(Buffer.from('user.overlay.opaque'), Buffer.from('y')), { kind: 'decline' });
  t.match(decideAttribute(Buffer.from('trusted.overlay.opaque'), Buffer.from('yy')), { kind: 'decline' });
});

t.test('setxattr: caller rule', async (t) => {
  t.same(decideCaller(status(capBit(CAP_SYS_ADMIN)), true), { kind: 'emulate' });
  t.match(decideCaller(status(capBit(CAP_SYS_ADMIN)), false), { kind: 'decline', reason: /namespace/ });
  t.match(decideCaller(status(capBit(CAP_SYS_NICE)), true), { kind: 'decline', reason: /CAP_SYS_ADMIN/ });
});

t.test('sched: registers and every decision row', async (t) => {
  t.same(schedArgs('x86_64', [0xffff_ffffn, 0x1_0000_0001n, 0x7000n]), { pid: -1, policy: 1, paramPtr: 0x7000n });
  const a = { pid: 0, policy: 1, paramPtr: 1n };
  const root = { inContainerUserns: true, uid: 0, gid: 0, capEff: capBit(CAP_SYS_NICE) };
  t.same(decideSched(a, on, root), { kind: 'emulate' });
  t.same(decideSched({ ...a, pid: 42 }, on, root), { kind: 'emulate' }, 'another pid is resolved by the helper');
  t.match(decideSched(a, EMPTY_POLICY, root), { reason: /off/ });
  t.match(decideSched({ ...a, pid: -5 }, on, root), { reason: /negative/ });
  t.match(decideSched(a, on, { ...root, inContainerUserns: false }), { reason: /namespace/ });
  t.match(decideSched(a, on, { ...root, uid: 1000 }), { reason: /root/ });
  t.match(decideSched(a, on, { ...root, gid: 5 }), { reason: /root/ });
  t.match(decideSched(a, on, { ...root, uid: undefined }), { reason: /root/ }, 'unmapped uid');
  t.match(decideSched(a, on, { ...root, capEff: capBit(CAP_SYS_ADMIN) }), { reason: /CAP_SYS_NICE/ });
});

t.test('id maps', async (t) => {
  const m = parseIdMap('         0     100000      65536\n     65536    1000000         10\ngarbage\n');
  t.equal(m.length, 2);
  t.equal(toInside(m, 100000), 0);
  t.equal(toInside(m, 165535), 65535);
  t.equal(toInside(m, 165536), undefined);
  t.equal(toInside(m, 1000005), 65541);
  t.equal(toInside(m, 0), undefined);
});

t.test('helper wire: setxattr and sched layouts', async (t) => {
  const creds = { tid: 4242, umask: 0o22, fsuid: 100000, fsgid: 100001, caps: 0x6n, groups: [100000, 100010] };
  const b = encodeSetxattr(7n, 9n, { ...creds, flags: 1, path: Buffer.from('/d'), name: Buffer.from('trusted.overlay.opaque'), value: Buffer.from('y') });
  const fixed = 32 + 40 + 4 * HELPER_MAX_GROUPS;
  t.equal(b.readUInt32LE(4), 3, 'op');
  t.equal(b.readUInt32LE(24), 4242, 'caller tid');
  t.equal(b.readInt32LE(32), 1, 'flags');
  t.equal(b.readUInt32LE(36), 1, 'value length');
  t.equal(b.readUInt32LE(40), 22, 'name length');
  t.equal(b.readUInt32LE(68), 2, 'path length');
  t.equal(b.toString('latin1', fixed), '/dtrusted.overlay.opaquey');
  t.throws(() => encodeSetxattr(1n, 1n, { ...creds, flags: 0, path: Buffer.from('/d'), name: Buffer.alloc(256, 0x61), value: Buffer.from('y') }));
  const s = encodeSched(8n, 10n, { ...creds, pid: -1, policy: 2, priority: 50 });
  t.equal(s.length, fixed, 'no path');
  t.equal(s.readUInt32LE(4), 4);
  t.equal(s.readInt32LE(32), -1);
  t.equal(s.readUInt32LE(36), 2);
  t.equal(s.readUInt32LE(40), 50);
});
