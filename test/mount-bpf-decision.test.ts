// Pure parts of mount and bpf interception: flag translation, option rewriting,
// the fstype rule, bpf_attr decoding and the command rule. Every row.

import t from 'tap';
import { EMPTY_POLICY, parsePolicy, type Policy } from '../compat/keys.js';
import {
  BPF_CGROUP_DEVICE,
  BPF_PROG_ATTACH,
  BPF_PROG_DETACH,
  BPF_PROG_LOAD,
  decodeProgAttach,
  decodeProgLoad,
  encodeProgAttach,
  encodeProgLoad,
} from '../protocol/bpf-attr.js';
import { hugetlbfsOptions, MOUNT_ATTR, MS, splitOptions, translateMountFlags } from '../protocol/mount-flags.js';
import { decideAttach, decideCommand, decideLoad } from '../src/handlers/bpf.js';
import { decideFstype, mountArgs } from '../src/handlers/mount.js';

function policy(config: Record<string, string>): Policy {
  const r = parsePolicy(config);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.policy;
}

t.test('mount flags: attributes, superblock options and FUSE options', async (t) => {
  const all = translateMountFlags(BigInt(MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.NOATIME | MS.NODIRATIME | MS.SYNCHRONOUS));
  if (!all.ok) return t.fail(all.reason);
  t.equal(all.attrs, MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC | MOUNT_ATTR.NOATIME | MOUNT_ATTR.NODIRATIME);
  t.same(all.sbOptions, ['ro', 'sync']);
  t.same(all.fuseOptions, ['ro', 'nosuid', 'nodev', 'noexec', 'sync', 'noatime', 'nodiratime']);
  t.same(translateMountFlags(0n), { ok: true, attrs: 0, sbOptions: [], fuseOptions: [] });
  t.same(translateMountFlags(0xc0ed0000n | BigInt(MS.RDONLY)), translateMountFlags(BigInt(MS.RDONLY)), 'MS_MGC_VAL ignored');
  t.match(translateMountFlags(BigInt(MS.SILENT | MS.RELATIME)), { ok: true, attrs: 0 }, 'no-op flags');
  t.match(translateMountFlags(BigInt(MS.STRICTATIME | MS.LAZYTIME | MS.DIRSYNC)), { ok: true, attrs: MOUNT_ATTR.STRICTATIME, sbOptions: ['dirsync', 'lazytime'] });
  for (const f of [MS.REMOUNT, MS.BIND, MS.MOVE, MS.SHARED, MS.PRIVATE, MS.SLAVE, MS.UNBINDABLE, MS.BIND | MS.REC]) {
    t.match(translateMountFlags(BigInt(f)), { ok: false, reason: /not a new mount/ }, `0x${f.toString(16)}`);
  }
  t.match(translateMountFlags(BigInt(MS.KERNMOUNT)), { ok: false, reason: /unsupported/ });
  t.match(translateMountFlags(1n << 40n), { ok: false, reason: /32 bits/ });
});

t.test('mount data and hugetlbfs ids', async (t) => {
  t.same(splitOptions('size=1m,,mode=755,'), ['size=1m', 'mode=755']);
  t.same(splitOptions(''), []);
  const up = (id: number) => (id < 65536 ? id + 100000 : undefined);
  t.same(hugetlbfsOptions(['pagesize=2M'], up, up, 100000, 100000), ['pagesize=2M', 'uid=100000', 'gid=100000'], 'caller ids by default');
  t.same(hugetlbfsOptions(['uid=1000', 'gid=5', 'mode=0700'], up, up, 1, 1), ['uid=101000', 'gid=100005', 'mode=0700']);
  t.equal(hugetlbfsOptions(['uid=70000'], up, up, 1, 1), undefined, 'unmapped id refused');
});

t.test('mount: the fstype rule', async (t) => {
  const p = policy({ 'security.syscalls.intercept.mount': 'true', 'security.syscalls.intercept.mount.allowed': 'ext4,xfs,hugetlbfs', 'security.syscalls.intercept.mount.fuse': 'btrfs=btrfs-fuse' });
  t.match(decideFstype('ext4', EMPTY_POLICY), { kind: 'decline', reason: /off/ });
  t.same(decideFstype('ext4', p), { kind: 'kernel', shift: false });
  t.same(decideFstype('xfs', { ...p, mountShift: true }), { kind: 'kernel', shift: true });
  t.same(decideFstype('hugetlbfs', { ...p, mountShift: true }), { kind: 'kernel', shift: false }, 'hugetlbfs is never idmapped');
  t.same(decideFstype('btrfs', p), { kind: 'fuse', binary: 'btrfs-fuse' });
  t.match(decideFstype('vfat', p), { kind: 'decline', reason: /not allowed/ });
  t.match(decideFstype('', p), { kind: 'decline', reason: /no filesystem/ });
  t.same(mountArgs('i386', [0x1_0000_0010n, 0x20n, 0x30n, 0xffff_0000_0000_0001n, 0x50n]), { source: 0x10n, target: 0x20n, fstype: 0x30n, flags: 1n, data: 0x50n });
  t.equal(mountArgs('x86_64', [0n, 0n, 0n, 1n << 40n, 0n]).flags, 1n << 40n, 'full 64-bit flags natively');
});

t.test('bpf: the command rule', async (t) => {
  const on = { ...EMPTY_POLICY, bpf: true, bpfDevices: true };
  t.match(decideCommand(BPF_PROG_LOAD, 144, { ...on, bpfDevices: false }), { kind: 'decline', reason: /off/ });
  t.match(decideCommand(BPF_PROG_LOAD, 144, { ...on, bpf: false }), { kind: 'decline' });
  t.same(decideCommand(BPF_PROG_LOAD, 144, on), { kind: 'load' });
  t.same(decideCommand(BPF_PROG_ATTACH, 20, on), { kind: 'attach' });
  t.same(decideCommand(BPF_PROG_DETACH, 20, on), { kind: 'attach' });
  t.match(decideCommand(0, 144, on), { kind: 'decline', reason: /not a load/ });
  t.match(decideCommand(BPF_PROG_LOAD, 0, on), { kind: 'decline' });
  t.match(decideCommand(BPF_PROG_LOAD, 5000, on), { kind: 'decline' });
  t.same(decideCommand(BPF_PROG_LOAD, 4096, on), { kind: 'load' }, 'large attrs are fine if the tail is zero');
});

t.test('bpf_attr: PROG_LOAD', async (t) => {
  const attr = Buffer.alloc(144);
  attr.writeUInt32LE(15, 0);
  attr.writeUInt32LE(11, 4);
  attr.writeBigUInt64LE(0x1000n, 8);
  attr.writeBigUInt64LE(0x2000n, 16);
  attr.writeUInt32LE(1, 24);
  attr.writeUInt32LE(4096, 28);
  attr.writeBigUInt64LE(0x3000n, 32);
  attr.write('devprog', 48);
  const d = decodeProgLoad(attr);
  if (!d.ok) return t.fail(d.reason);
  t.match(d.value, { progType: 15, insnCnt: 11, insns: 0x1000n, license: 0x2000n, logLevel: 1, logSize: 4096, logBuf: 0x3000n });
  t.equal(d.value.progName.toString('latin1').replace(/\0+$/, ''), 'devprog');
  t.same(decideLoad(d.value), { kind: 'load' });
  t.match(decideLoad({ ...d.value, progType: 1 }), { kind: 'decline', reason: /CGROUP_DEVICE/ });
  t.match(decideLoad({ ...d.value, insnCnt: 0 }), { kind: 'decline' });
  t.match(decideLoad({ ...d.value, insnCnt: 70000 }), { kind: 'decline' });
  const short = decodeProgLoad(attr.subarray(0, 48));
  t.ok(short.ok && short.value.logBuf === 0x3000n, 'a 48-byte attr decodes (missing fields read as 0)');
  const withBtf = Buffer.from(attr);
  withBtf.writeUInt32LE(7, 72);
  t.match(decodeProgLoad(withBtf), { ok: false }, 'BTF fd refused: it names a caller fd');
  const ours = encodeProgLoad(d.value, 0xa000n, 0xb000n, 0xc000n, 512);
  t.equal(ours.length, 72);
  t.equal(ours.readBigUInt64LE(8), 0xa000n);
  t.equal(ours.readUInt32LE(28), 512);
  t.equal(encodeProgLoad(d.value, 1n, 2n, 3n, 0).readUInt32LE(24), 0, 'no log buffer: log level 0');
});

t.test('bpf_attr: PROG_ATTACH/DETACH', async (t) => {
  const attr = Buffer.alloc(144);
  attr.writeUInt32LE(5, 0);
  attr.writeUInt32LE(6, 4);
  attr.writeUInt32LE(BPF_CGROUP_DEVICE, 8);
  attr.writeUInt32LE(2, 12);
  const d = decodeProgAttach(attr);
  if (!d.ok) return t.fail(d.reason);
  t.same(d.value, { targetFd: 5, attachBpfFd: 6, attachType: 6, attachFlags: 2, replaceBpfFd: 0 });
  t.same(decideAttach(d.value), { kind: 'attach' });
  t.match(decideAttach({ ...d.value, attachType: 0 }), { kind: 'decline' });
  const rel = Buffer.from(attr);
  rel.writeUInt32LE(9, 20);
  t.match(decodeProgAttach(rel), { ok: false });
  t.same(decodeProgAttach(encodeProgAttach(d.value)), { ok: true, value: d.value });
});

t.test('bpf caller: the capabilities the kernel asks for, in the container’s own user namespace', async (t) => {
  const { decideCaller } = await import('../src/handlers/bpf.js');
  const { CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN, capBit } = await import('../protocol/proc-status.js');
  const status = (capEff: bigint) => ({ euid: 0, egid: 0, fsuid: 0, fsgid: 0, capEff, umask: 0o22, groups: [] }) as unknown as Parameters<typeof decideCaller>[0];
  t.equal(decideCaller(status(capBit(CAP_SYS_ADMIN)), true, 'load'), undefined, 'container root');
  t.equal(decideCaller(status(capBit(CAP_SYS_ADMIN)), true, 'attach'), undefined);
  t.equal(decideCaller(status(capBit(CAP_BPF)), true, 'load'), undefined, 'CAP_BPF loads');
  t.match(decideCaller(status(capBit(CAP_BPF)), true, 'attach'), { kind: 'decline', reason: /CAP_NET_ADMIN/ }, 'but does not attach');
  t.equal(decideCaller(status(capBit(CAP_NET_ADMIN)), true, 'attach'), undefined, 'CAP_NET_ADMIN attaches');
  t.match(decideCaller(status(0n), true, 'load'), { kind: 'decline', reason: /CAP_BPF and CAP_SYS_ADMIN/ }, 'a plain container user');
  t.match(decideCaller(status(capBit(CAP_SYS_ADMIN)), false, 'load'), { kind: 'decline', reason: /user namespace/ }, 'a nested user namespace');
});
