import t from 'tap';
import type { KernelFeatures } from '../src/handlers/types.js';
import { EMPTY_POLICY, type Policy } from '../compat/keys.js';
import { decodeDev, encodeDev } from '../protocol/dev.js';
import {
  CAP_DAC_OVERRIDE,
  CAP_DAC_READ_SEARCH,
  CAP_FOWNER,
  CAP_MKNOD,
  CAP_SYS_ADMIN,
  capBit,
  type TaskStatus,
} from '../protocol/proc-status.js';
import { ALLOWED_DEVICES, decideCaller, decideMknod, helperCaps, mknodArgs, type MknodArgs } from '../src/handlers/mknod.js';

const S_IFIFO = 0o010000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFREG = 0o100000;
const S_IFSOCK = 0o140000;

const ON: Policy = { ...EMPTY_POLICY, mknod: true };
const OLD_KERNEL = { unprivilegedWhiteouts: false, addfdSend: true };
const NEW_KERNEL = { unprivilegedWhiteouts: true, addfdSend: true };

function args(mode: number, major: number, minor: number): MknodArgs {
  return { dirfd: -100, pathPtr: 0x7ffd0000n, mode, dev: encodeDev(major, minor) };
}

function status(capEff: bigint): TaskStatus {
  return { tgid: 4242, euid: 100000, fsuid: 100000, egid: 100000, fsgid: 100000, groups: [], umask: 0o022, capEff, nspid: [4242, 1] };
}

t.test('mknodArgs: mknod has no dirfd, its args start at 0', async (t) => {
  t.same(mknodArgs('mknod', [0x7ffd83df5e30n, 0x21a4n, 0x103n, 0n, 0n, 0n]), {
    dirfd: -100,
    pathPtr: 0x7ffd83df5e30n,
    mode: 0o20644,
    dev: 0x103,
  });
});

t.test('mknodat: a zero-extended AT_FDCWD reads as -100', async (t) => {
  t.same(mknodArgs('mknodat', [0xffffff9cn, 0x7ffd83df5f30n, 0x21a4n, 0x103n, 0n, 0n]), {
    dirfd: -100,
    pathPtr: 0x7ffd83df5f30n,
    mode: 0o20644,
    dev: 0x103,
  });
  t.equal(mknodArgs('mknodat', [0xffffffffffffff9cn, 0n, 0n, 0n]).dirfd, -100, 'sign-extended too');
  t.equal(mknodArgs('mknodat', [0xdeadbeef00000005n, 0n, 0n, 0n]).dirfd, 5, 'garbage upper half ignored');
  t.equal(mknodArgs('mknodat', [0x7fffffffn, 0n, 0n, 0n]).dirfd, 0x7fffffff);
});

t.test('mknodArgs: only the low 16 bits of mode and the low 32 of dev count', async (t) => {
  const a = mknodArgs('mknodat', [3n, 0x1000n, 0xffffffff_fff621a4n, 0xffffffff_00000501n]);
  t.equal(a.mode, 0x21a4);
  t.equal(a.dev, 0x501);
  t.same(decodeDev(a.dev), { major: 5, minor: 1 });
  const b = mknodArgs('mknod', [0x1000n, 0x1_0000_21b6n, 0x8000_0000_0000_0103n]);
  t.equal(b.mode, 0x21b6);
  t.equal(b.dev, 0x103);
  t.equal(b.pathPtr, 0x1000n, 'pointers keep all 64 bits');
  t.equal(mknodArgs('mknod', [0xffff_8000_0000_0000n, 0n, 0n]).pathPtr, 0xffff_8000_0000_0000n);
});

t.test('the allowed devices are exactly LXD\'s', async (t) => {
  t.same([...ALLOWED_DEVICES].sort(), ['0:0', '1:3', '1:5', '1:7', '1:8', '1:9', '5:0', '5:1']);
});

t.test('decideMknod: every row', async (t) => {
  type Row = [name: string, policy: Policy, a: MknodArgs, kernel: KernelFeatures, expect: string];
  const rows: Row[] = [
    ['interception off', EMPTY_POLICY, args(S_IFCHR | 0o666, 1, 3), OLD_KERNEL, 'decline: mknod interception is off'],
    ['interception off, whiteout', EMPTY_POLICY, args(S_IFCHR, 0, 0), OLD_KERNEL, 'decline: mknod interception is off'],
    ['block device', ON, args(S_IFBLK | 0o660, 8, 0), OLD_KERNEL, 'decline: not a character device'],
    ['block 1:3', ON, args(S_IFBLK | 0o666, 1, 3), OLD_KERNEL, 'decline: not a character device'],
    ['fifo', ON, args(S_IFIFO | 0o644, 0, 0), OLD_KERNEL, 'decline: not a character device'],
    ['regular file', ON, args(S_IFREG | 0o644, 0, 0), OLD_KERNEL, 'decline: not a character device'],
    ['type 0 (regular)', ON, args(0o644, 1, 3), OLD_KERNEL, 'decline: not a character device'],
    ['socket', ON, args(S_IFSOCK | 0o755, 0, 0), OLD_KERNEL, 'decline: not a character device'],
    ['whiteout, kernel allows it', ON, args(S_IFCHR, 0, 0), NEW_KERNEL, 'decline: whiteout: the kernel allows it'],
    ['whiteout, old kernel', ON, args(S_IFCHR, 0, 0), OLD_KERNEL, 'emulate'],
    ['null', ON, args(S_IFCHR | 0o666, 1, 3), OLD_KERNEL, 'emulate'],
    ['zero', ON, args(S_IFCHR | 0o666, 1, 5), NEW_KERNEL, 'emulate'],
    ['full', ON, args(S_IFCHR | 0o666, 1, 7), OLD_KERNEL, 'emulate'],
    ['random', ON, args(S_IFCHR | 0o666, 1, 8), OLD_KERNEL, 'emulate'],
    ['urandom', ON, args(S_IFCHR | 0o666, 1, 9), OLD_KERNEL, 'emulate'],
    ['tty', ON, args(S_IFCHR | 0o666, 5, 0), OLD_KERNEL, 'emulate'],
    ['console', ON, args(S_IFCHR | 0o600, 5, 1), OLD_KERNEL, 'emulate'],
    ['null, setuid bits and no permissions', ON, args(S_IFCHR | 0o7000, 1, 3), OLD_KERNEL, 'emulate'],
    ['mem 1:1', ON, args(S_IFCHR | 0o640, 1, 1), OLD_KERNEL, 'decline: device 1:1 is not allowed'],
    ['kmem 1:2', ON, args(S_IFCHR | 0o640, 1, 2), OLD_KERNEL, 'decline: device 1:2 is not allowed'],
    ['tty1 4:1', ON, args(S_IFCHR | 0o620, 4, 1), OLD_KERNEL, 'decline: device 4:1 is not allowed'],
    ['fuse 10:229', ON, args(S_IFCHR | 0o666, 10, 229), OLD_KERNEL, 'decline: device 10:229 is not allowed'],
    ['10:200', ON, args(S_IFCHR | 0o666, 10, 200), OLD_KERNEL, 'decline: device 10:200 is not allowed'],
    ['minor > 255 aliasing 1:3 in its low byte', ON, args(S_IFCHR | 0o666, 1, 0x103), OLD_KERNEL, 'decline: device 1:259 is not allowed'],
    ['minor 2^20 - 1', ON, args(S_IFCHR | 0o666, 5, 0xfffff), OLD_KERNEL, 'decline: device 5:1048575 is not allowed'],
    ['major 4095', ON, args(S_IFCHR | 0o666, 4095, 3), OLD_KERNEL, 'decline: device 4095:3 is not allowed'],
  ];
  for (const [name, policy, a, kernel, expect] of rows) {
    const d = decideMknod(a, policy, kernel);
    t.equal(d.kind === 'emulate' ? 'emulate' : `decline: ${d.reason}`, expect, name);
  }
  t.equal(encodeDev(1, 259), 0x100103, '1:259 per the kernel formula');
  t.equal(encodeDev(1, 259) & 0xffff, encodeDev(1, 3), 'its low 16 bits are those of 1:3');
});

t.test('decideMknod ignores the dirfd: mknodat on a real directory fd is emulated', async (t) => {
  t.equal(decideMknod({ ...args(S_IFCHR | 0o666, 1, 3), dirfd: 7 }, ON, OLD_KERNEL).kind, 'emulate');
});

t.test('decideCaller', async (t) => {
  const root = status(capBit(CAP_MKNOD) | capBit(CAP_SYS_ADMIN));
  const noMknod = status(capBit(CAP_SYS_ADMIN) | capBit(CAP_DAC_OVERRIDE));
  const describe = (d: ReturnType<typeof decideCaller>): string => (d.kind === 'emulate' ? 'emulate' : `decline: ${d.reason}`);
  t.equal(describe(decideCaller(root, false, false)), "decline: caller is not in the container's user namespace");
  t.equal(describe(decideCaller(root, false, true)), "decline: caller is not in the container's user namespace", 'a whiteout too');
  t.equal(describe(decideCaller(noMknod, true, false)), 'decline: caller lacks CAP_MKNOD');
  t.equal(describe(decideCaller(status(0n), true, false)), 'decline: caller lacks CAP_MKNOD');
  t.equal(describe(decideCaller(noMknod, true, true)), 'emulate', 'whiteouts need no CAP_MKNOD');
  t.equal(describe(decideCaller(status(0n), true, true)), 'emulate');
  t.equal(describe(decideCaller(root, true, false)), 'emulate');
  t.equal(describe(decideCaller(status(capBit(CAP_MKNOD)), true, false)), 'emulate', 'CAP_MKNOD alone is enough');
});

t.test('helperCaps: CAP_MKNOD always, DAC overrides only when the caller has them', async (t) => {
  const mknod = capBit(CAP_MKNOD);
  const dac = capBit(CAP_DAC_OVERRIDE);
  const search = capBit(CAP_DAC_READ_SEARCH);
  t.equal(helperCaps(status(0n)), mknod, 'a caller without caps (whiteout)');
  t.equal(helperCaps(status(mknod)), mknod);
  t.equal(helperCaps(status(mknod | dac)), mknod | dac);
  t.equal(helperCaps(status(search)), mknod | search);
  t.equal(helperCaps(status(mknod | dac | search)), mknod | dac | search);
  t.equal(helperCaps(status(capBit(CAP_SYS_ADMIN) | capBit(CAP_FOWNER))), mknod, 'nothing else is passed on');
  t.equal(helperCaps(status((1n << 41n) - 1n)), mknod | dac | search, 'a full set is cut down');
});
