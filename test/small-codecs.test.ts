import fs from 'node:fs';
import t from 'tap';
import { CONTINUE, OK, describeAnswer, errno, value } from '../protocol/answer.js';
import { AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT } from '../protocol/constants.js';
import { decodeDev, encodeDev } from '../protocol/dev.js';
import {
  HELPER_FLAG_BOUND,
  HELPER_REPLY_SIZE,
  HELPER_REQ_MAGIC,
  HELPER_RESP_MAGIC,
  HelperOp,
  decodeHelperReply,
  encodeMknod,
  encodePing,
  type MknodRequest,
} from '../protocol/helper-wire.js';
import { CAP_MKNOD, CAP_SYS_ADMIN, capBit, hasCap, parseTaskStatus } from '../protocol/proc-status.js';
import { decodeNotification } from '../protocol/seccomp.js';
import { SYSCALL_NUMBERS, resolveSyscall, type Abi } from '../protocol/syscalls.js';
import { parseMonitor, parseMonitorTitle } from '../src/liblxc/identify.js';

// protocol/dev.ts

t.test('dev: makedev values of the allowed devices', async (t) => {
  t.equal(encodeDev(1, 3), 0x103);
  t.equal(encodeDev(5, 1), 0x501);
  t.equal(encodeDev(0, 0), 0);
  t.same(decodeDev(0x103), { major: 1, minor: 3 });
  t.same(decodeDev(0x501), { major: 5, minor: 1 });
  t.same(decodeDev(0), { major: 0, minor: 0 });
});

t.test('dev: large minors and majors round-trip with the kernel formula', async (t) => {
  t.equal(encodeDev(4095, 0xfffff), 0xffffffff);
  t.same(decodeDev(0xffffffff), { major: 4095, minor: 0xfffff });
  t.equal(encodeDev(8, 256), 0x100800, 'minor bits 8.. go above the major');
  t.same(decodeDev(0x100800), { major: 8, minor: 256 });
  for (const [major, minor] of [
    [0, 1],
    [1, 255],
    [1, 256],
    [10, 200],
    [259, 65536],
    [4095, 0],
    [0, 0xfffff],
    [2047, 0x80000],
  ] as const) {
    const dev = encodeDev(major, minor);
    t.ok(dev >= 0 && dev <= 0xffffffff, `${major}:${minor} is a u32`);
    t.same(decodeDev(dev), { major, minor }, `${major}:${minor}`);
  }
});

// protocol/syscalls.ts

const ARCH: Record<Abi, number> = {
  x86_64: AUDIT_ARCH_X86_64,
  x32: AUDIT_ARCH_X86_64,
  i386: AUDIT_ARCH_I386,
  aarch64: AUDIT_ARCH_AARCH64,
};

t.test('resolveSyscall: every (abi, name) of the table', async (t) => {
  let n = 0;
  for (const [abi, table] of Object.entries(SYSCALL_NUMBERS) as [Abi, Record<string, number>][]) {
    for (const [name, nr] of Object.entries(table)) {
      t.same(resolveSyscall(ARCH[abi], nr), { name, abi }, `${abi} ${name} ${nr}`);
      n++;
    }
  }
  t.equal(n, 27);
});

t.test('resolveSyscall: numbers from the kernel headers', async (t) => {
  const cases: [number, number, string, Abi][] = [
    [AUDIT_ARCH_X86_64, 133, 'mknod', 'x86_64'],
    [AUDIT_ARCH_X86_64, 259, 'mknodat', 'x86_64'],
    [AUDIT_ARCH_X86_64, 99, 'sysinfo', 'x86_64'],
    [AUDIT_ARCH_I386, 14, 'mknod', 'i386'],
    [AUDIT_ARCH_I386, 297, 'mknodat', 'i386'],
    [AUDIT_ARCH_I386, 116, 'sysinfo', 'i386'],
    [AUDIT_ARCH_AARCH64, 40, 'mount', 'aarch64'],
    [AUDIT_ARCH_AARCH64, 280, 'bpf', 'aarch64'],
    [AUDIT_ARCH_AARCH64, 119, 'sched_setscheduler', 'aarch64'],
    [AUDIT_ARCH_AARCH64, 33, 'mknodat', 'aarch64'],
    [AUDIT_ARCH_X86_64, X32_SYSCALL_BIT + 133, 'mknod', 'x32'],
    [AUDIT_ARCH_X86_64, 0x40000000 | 259, 'mknodat', 'x32'],
  ];
  for (const [arch, nr, name, abi] of cases) t.same(resolveSyscall(arch, nr), { name, abi }, `${abi} ${nr}`);
  t.same(resolveSyscall(AUDIT_ARCH_X86_64 | 0, 133), { name: 'mknod', abi: 'x86_64' }, 'arch as a signed int');
});

t.test('resolveSyscall: unknown pairs are undefined', async (t) => {
  const cases: [string, number, number][] = [
    ['unknown arch', 0x4000003e, 133],
    ['arm 32-bit', 0x40000028, 14],
    ['unknown nr', AUDIT_ARCH_X86_64, 9999],
    ['x86_64 read', AUDIT_ARCH_X86_64, 0],
    ['negative nr', AUDIT_ARCH_X86_64, -1],
    ["LXD's wrong arm64 mount", AUDIT_ARCH_AARCH64, 21],
    ["LXD's wrong arm64 bpf", AUDIT_ARCH_AARCH64, 386],
    ["LXD's wrong arm64 sched_setscheduler", AUDIT_ARCH_AARCH64, 156],
    ['no mknod on aarch64 (133 is rt_sigsuspend)', AUDIT_ARCH_AARCH64, 133],
    ['i386 with the x32 bit', AUDIT_ARCH_I386, X32_SYSCALL_BIT + 14],
    ['x32 bit with an unintercepted nr', AUDIT_ARCH_X86_64, X32_SYSCALL_BIT + 14],
    ['x32-only number range', AUDIT_ARCH_X86_64, X32_SYSCALL_BIT + 512],
  ];
  for (const [name, arch, nr] of cases) t.equal(resolveSyscall(arch, nr), undefined, name);
});

// protocol/proc-status.ts

const CRAFTED = [
  'Name:\tsh',
  'Umask:\t0027',
  'State:\tS (sleeping)',
  'Tgid:\t4242',
  'Ngid:\t0',
  'Pid:\t4243',
  'PPid:\t1',
  'Uid:\t100000\t100001\t100002\t100003',
  'Gid:\t100010\t100011\t100012\t100013',
  'FDSize:\t64',
  'Groups:\t100004 100027 ',
  'NStgid:\t4242\t7',
  'NSpid:\t4243\t8',
  'CapInh:\t0000000000000000',
  'CapPrm:\t000001ffffffffff',
  'CapEff:\t0000000008000001',
  '',
].join('\n');

t.test('parseTaskStatus: a crafted status', async (t) => {
  t.same(parseTaskStatus(CRAFTED), {
    tgid: 4242,
    euid: 100001,
    fsuid: 100003,
    egid: 100011,
    fsgid: 100013,
    groups: [100004, 100027],
    umask: 0o027,
    capEff: 0x8000001n,
    nspid: [4243, 8],
  });
});

t.test('parseTaskStatus: the real /proc/self/status', async (t) => {
  const old = process.umask(0o037);
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/status', 'utf8');
  } finally {
    process.umask(old);
  }
  const s = parseTaskStatus(text);
  if (s === undefined) return t.fail('not parsed');
  t.equal(s.tgid, process.pid);
  t.equal(s.euid, process.geteuid!());
  t.equal(s.egid, process.getegid!());
  t.equal(s.umask, 0o037);
  t.same(new Set([...s.groups, s.egid]), new Set([...process.getgroups!(), s.egid]));
  t.equal(s.nspid[0], process.pid, 'the pid as seen in our pid namespace first');
  t.equal(typeof s.capEff, 'bigint');
  const capLine = /^CapEff:\s*([0-9a-f]+)$/m.exec(text)?.[1];
  t.equal(s.capEff, BigInt(`0x${capLine}`));
});

t.test('parseTaskStatus: missing or malformed required fields', async (t) => {
  const without = (field: string): string => CRAFTED.replace(new RegExp(`^${field}:.*\\n`, 'm'), '');
  const replace = (field: string, v: string): string => CRAFTED.replace(new RegExp(`^${field}:.*$`, 'm'), `${field}:\t${v}`);
  const cases: [string, string][] = [
    ['no Uid', without('Uid')],
    ['no Gid', without('Gid')],
    ['no Tgid', without('Tgid')],
    ['no CapEff', without('CapEff')],
    ['Uid with 3 fields', replace('Uid', '1\t2\t3')],
    ['Uid with 5 fields', replace('Uid', '1\t2\t3\t4\t5')],
    ['Gid with a word', replace('Gid', '1\tx\t3\t4')],
    ['Gid negative', replace('Gid', '1\t-2\t3\t4')],
    ['empty Tgid', replace('Tgid', '')],
    ['CapEff not hex', replace('CapEff', '00000000000000zz')],
    ['CapEff too long', replace('CapEff', '00000000000000001')],
    ['CapEff empty', replace('CapEff', '')],
    ['empty text', ''],
    ['not a status file', 'hello\nworld\n'],
  ];
  for (const [name, text] of cases) t.equal(parseTaskStatus(text), undefined, name);
});

t.test('parseTaskStatus: optional fields', async (t) => {
  const s = (text: string) => parseTaskStatus(text);
  t.equal(s(CRAFTED.replace(/^Umask:.*\n/m, ''))?.umask, -1, 'no Umask (kernels before 4.7)');
  t.equal(s(CRAFTED.replace(/^Umask:.*$/m, 'Umask:\t0o22'))?.umask, -1, 'malformed Umask');
  t.equal(s(CRAFTED.replace(/^Umask:.*$/m, 'Umask:\t0899'))?.umask, -1, 'not octal');
  t.same(s(CRAFTED.replace(/^Groups:.*$/m, 'Groups:\t'))?.groups, [], 'no supplementary groups');
  t.same(s(CRAFTED.replace(/^NSpid:.*\n/m, ''))?.nspid, [], 'no NSpid');
  t.same(s(CRAFTED.replace(/^NSpid:.*$/m, 'NSpid:\t9\t5\t1'))?.nspid, [9, 5, 1], 'three nested namespaces');
});

t.test('hasCap and capBit', async (t) => {
  t.equal(hasCap(0x8000001n, CAP_MKNOD), true);
  t.equal(hasCap(0x8000001n, 0), true);
  t.equal(hasCap(0x8000001n, CAP_SYS_ADMIN), false);
  t.equal(hasCap(0n, CAP_MKNOD), false);
  t.equal(hasCap(0x1ffffffffffn, 40), true, 'cap 40 (CAP_CHECKPOINT_RESTORE) in the upper word');
  t.equal(hasCap(0xffffffffn, 40), false);
  t.equal(capBit(CAP_MKNOD), 0x8000000n);
  t.equal(capBit(40), 0x10000000000n);
});

// protocol/helper-wire.ts

const MKNOD: MknodRequest = {
  tid: 4242,
  dirfd: -100,
  mode: 0o20666,
  dev: 0x103,
  umask: 0o022,
  fsuid: 100000,
  fsgid: 100005,
  caps: capBit(CAP_MKNOD) | (1n << 40n),
  groups: [100004, 4294967294],
  path: Buffer.from('/dev/null'),
};

t.test('encodeMknod: fields at the offsets of the header comment', async (t) => {
  const b = encodeMknod(7n, 0xfedcba9876543210n, MKNOD);
  t.equal(b.length, 328 + 9);
  t.equal(b.readUInt32LE(0), HELPER_REQ_MAGIC);
  t.equal(b.readUInt32LE(0), 0x48434449);
  t.equal(b.subarray(0, 4).toString('latin1'), 'IDCH');
  t.equal(b.readUInt32LE(4), HelperOp.MKNOD);
  t.equal(b.readUInt32LE(4), 2);
  t.equal(b.readBigUInt64LE(8), 7n);
  t.equal(b.readBigUInt64LE(16), 0xfedcba9876543210n);
  t.equal(b.readUInt32LE(24), 4242, 'caller tid');
  t.ok(b.subarray(28, 32).equals(Buffer.alloc(4)), 'reserved bytes are zero');
  t.equal(b.readInt32LE(32), -100);
  t.equal(b.readUInt32LE(36), 0o20666);
  t.equal(b.readUInt32LE(40), 0x103);
  t.equal(b.readUInt32LE(44), 0o022);
  t.equal(b.readUInt32LE(48), 100000);
  t.equal(b.readUInt32LE(52), 100005);
  t.equal(b.readBigUInt64LE(56), 0x10008000000n);
  t.equal(b.readUInt32LE(64), 2, 'ngroups');
  t.equal(b.readUInt32LE(68), 9, 'path_len');
  t.equal(b.readUInt32LE(72), 100004);
  t.equal(b.readUInt32LE(76), 4294967294);
  t.ok(b.subarray(80, 328).equals(Buffer.alloc(248)), 'unused group slots are zero');
  t.equal(b.subarray(328).toString(), '/dev/null', 'path without NUL');
});

t.test('encodeMknod: more than 64 groups are cut to 64', async (t) => {
  const groups = Array.from({ length: 70 }, (_, i) => 1000 + i);
  const b = encodeMknod(1n, 1n, { ...MKNOD, groups });
  t.equal(b.readUInt32LE(64), 64);
  t.equal(b.readUInt32LE(72 + 4 * 63), 1063);
  t.equal(b.length, 328 + 9, 'the path still starts at 328');
  t.equal(b.subarray(328).toString(), '/dev/null');
});

t.test('encodeMknod: paths the helper must never see throw', async (t) => {
  t.throws(() => encodeMknod(1n, 1n, { ...MKNOD, path: Buffer.alloc(0) }), RangeError, 'empty');
  t.throws(() => encodeMknod(1n, 1n, { ...MKNOD, path: Buffer.from('/dev/nu\0ll') }), RangeError, 'NUL inside');
  t.throws(() => encodeMknod(1n, 1n, { ...MKNOD, path: Buffer.from('/dev/null\0') }), RangeError, 'trailing NUL');
  t.throws(() => encodeMknod(1n, 1n, { ...MKNOD, path: Buffer.alloc(4096, 'a') }), RangeError, '4096 bytes');
  t.equal(encodeMknod(1n, 1n, { ...MKNOD, path: Buffer.alloc(4095, 'a') }).length, 328 + 4095, '4095 bytes fit');
});

t.test('encodePing: a bare header', async (t) => {
  const b = encodePing(99n);
  t.equal(b.length, 32);
  t.equal(b.readUInt32LE(0), HELPER_REQ_MAGIC);
  t.equal(b.readUInt32LE(4), HelperOp.PING);
  t.equal(b.readBigUInt64LE(8), 99n);
  t.equal(b.readBigUInt64LE(16), 0n);
});

function reply(errnoValue: number, over: { magic?: number; seq?: bigint; val?: bigint; flags?: number } = {}): Buffer {
  const b = Buffer.alloc(32);
  b.writeUInt32LE(over.magic ?? HELPER_RESP_MAGIC, 0);
  b.writeInt32LE(errnoValue, 4);
  b.writeBigUInt64LE(over.seq ?? 5n, 8);
  b.writeBigInt64LE(over.val ?? 0n, 16);
  b.writeUInt32LE(over.flags ?? 0, 24);
  return b;
}

t.test('decodeHelperReply: a well-formed reply', async (t) => {
  t.equal(HELPER_REPLY_SIZE, 32);
  t.equal(HELPER_RESP_MAGIC, 0x52434449);
  const ok = decodeHelperReply(reply(0, { seq: 0xffffffffffffffffn, val: -5n, flags: HELPER_FLAG_BOUND }), 32);
  t.same(ok, { ok: true, value: { errno: 0, seq: 0xffffffffffffffffn, val: -5n, flags: 1 } });
  const eexist = decodeHelperReply(reply(17), 32);
  t.same(eexist.ok && eexist.value.errno, 17);
  const max = decodeHelperReply(reply(4095), 32);
  t.same(max.ok && max.value.errno, 4095);
});

t.test('decodeHelperReply: rejects', async (t) => {
  const cases: [string, Buffer, number][] = [
    ['31 bytes', reply(0), 31],
    ['33 bytes', Buffer.concat([reply(0), Buffer.alloc(1)]), 33],
    ['0 bytes', Buffer.alloc(32), 0],
    ['request magic', reply(0, { magic: HELPER_REQ_MAGIC }), 32],
    ['zero magic', reply(0, { magic: 0 }), 32],
    ['errno -1', reply(-1), 32],
    ['errno -5555', reply(-5555), 32],
    ['errno 4096', reply(4096), 32],
    ['errno 5555', reply(5555), 32],
  ];
  for (const [name, buf, len] of cases) {
    const d = decodeHelperReply(buf, len);
    t.equal(d.ok ? 'accepted' : d.error.code, 'ICD_PROTO_HELPER', name);
  }
});

// protocol/answer.ts

t.test('errno(): 1..4095 only', async (t) => {
  t.same(errno(1), { kind: 'errno', errno: 1 });
  t.same(errno(4095), { kind: 'errno', errno: 4095 });
  for (const bad of [0, -1, 4096, 5555, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    t.throws(() => errno(bad), RangeError, String(bad));
  }
});

t.test('describeAnswer', async (t) => {
  t.equal(describeAnswer(CONTINUE), 'continue');
  t.equal(describeAnswer(OK), 'value 0');
  t.equal(describeAnswer(errno(17)), 'errno 17');
  t.equal(describeAnswer(value(-1n)), 'value -1');
  t.equal(describeAnswer(value(3)), 'value 3');
  t.equal(describeAnswer(value(2n ** 63n - 1n)), 'value 9223372036854775807');
});

// src/liblxc/identify.ts

t.test('parseMonitorTitle', async (t) => {
  const cases: [string, string, string | undefined][] = [
    ['liblxc, NUL-separated, trailing NUL', '[lxc monitor]\0/var/lib/lxc\0c1\0', 'c1'],
    ['liblxc, one string padded with NULs', '[lxc monitor] /var/lib/lxc c1\0\0\0\0\0\0', 'c1'],
    ["LXD's project prefix", '[lxc monitor] /var/lib/lxd/containers proj_c1\0', 'proj_c1'],
    ['no trailing NUL', '[lxc monitor] /var/lib/lxc c1', 'c1'],
    ['lxcpath with a space', '[lxc monitor] /srv/my lxc c2\0', 'c2'],
    ['another process', '/usr/bin/lxc-start\0-n\0c1\0', undefined],
    ['init', '/sbin/init\0', undefined],
    ['empty', '', undefined],
    ['prefix without the space', '[lxc monitor]c1\0', undefined],
    ['prefix not at the start', 'x[lxc monitor] /var/lib/lxc c1\0', undefined],
    ['name with a slash', '[lxc monitor] /var/lib/lxc a/b\0', undefined],
    ['name ..', '[lxc monitor] /var/lib/lxc ..\0', undefined],
    ['name with ..', '[lxc monitor] /var/lib/lxc a..b\0', undefined],
    ['no name, only the path', '[lxc monitor] /var/lib/lxc\0', undefined],
    ['prefix alone', '[lxc monitor] \0', undefined],
  ];
  for (const [name, cmdline, expect] of cases) t.equal(parseMonitorTitle(cmdline), expect, name);
  t.same(parseMonitor('[lxc monitor] /var/lib/lxd/containers proj_c1\0'), { name: 'proj_c1', lxcPath: '/var/lib/lxd/containers' }, 'the lxcpath too');
  t.same(parseMonitor('[lxc monitor] /srv/my lxc c2\0'), { name: 'c2', lxcPath: '/srv/my lxc' }, 'an lxcpath with a space');
});

t.test('decodeNotification: the aligned fast path and the byte-by-byte path agree', async (t) => {
  const bytes = Buffer.alloc(80);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 37 + 11) & 0xff;
  bytes.writeBigUInt64LE(0xffff_ffff_ffff_fff0n, 32 + 5 * 8); // a register with the top bit set
  const aligned = Buffer.alloc(88);
  bytes.copy(aligned, 0);
  const unaligned = Buffer.alloc(88);
  bytes.copy(unaligned, 3);
  const fast = decodeNotification(aligned, 0);
  const slow = decodeNotification(unaligned, 3);
  t.same(fast, slow);
  t.equal(fast.id, bytes.readBigUInt64LE(0));
  t.equal(fast.ip, bytes.readBigUInt64LE(24));
  t.same(fast.args, [0, 1, 2, 3, 4, 5].map((i) => bytes.readBigUInt64LE(32 + i * 8)));
  t.equal(fast.args[5], 0xffff_ffff_ffff_fff0n);
  // A view must not outlive the bytes it was read from: later writes do not change a decoded value.
  aligned.fill(0);
  t.equal(fast.args[5], 0xffff_ffff_ffff_fff0n);
  t.equal(decodeNotification(aligned.subarray(8), 0).id, 0n, 'a subarray at an aligned offset');
});
