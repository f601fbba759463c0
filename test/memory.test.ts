// Reading "target" memory: this process reads itself with process_vm_readv, so page
// boundaries, faults and the PATH_MAX bound can be placed exactly.

import fs from 'node:fs';
import t from 'tap';
import { addressOf } from '../native/libc.js';
import { TargetMemory } from '../native/memory.js';

const PAGE = 4096;
const mem = new TargetMemory(process.pid);

/** A buffer and the offset in it where a page starts, so tests can straddle it. */
function pageAligned(pages: number): { buf: Buffer; base: bigint; off: number } {
  const buf = Buffer.alloc((pages + 1) * PAGE);
  const base = addressOf(buf);
  const off = (PAGE - Number(base % BigInt(PAGE))) % PAGE;
  return { buf, base, off };
}

t.test('reads a string that straddles a page boundary', async (t) => {
  const { buf, base, off } = pageAligned(2);
  const start = off + PAGE - 5;
  buf.write('/tmp/straddle', start, 'latin1');
  const r = mem.readString(base + BigInt(start), 4096);
  t.same(r, { ok: true, bytes: Buffer.from('/tmp/straddle') });
});

t.test('a string without NUL within the bound is ENAMETOOLONG', async (t) => {
  const { buf, base, off } = pageAligned(3);
  buf.fill(0x61, off, off + 2 * PAGE);
  t.same(mem.readString(base + BigInt(off + 100), 4096), { ok: false, errno: 36 });
  buf[off + 100 + 4095] = 0;
  const r = mem.readString(base + BigInt(off + 100), 4096);
  t.equal(r.ok && r.bytes.length, 4095, 'NUL as the 4096th byte fits');
});

t.test('unmapped memory is EFAULT', async (t) => {
  t.same(mem.readString(0x10n, 4096), { ok: false, errno: 14 });
  t.same(mem.read(0x10n, 8), { ok: false, errno: 14 });
  t.same(mem.readString(0xffff_ffff_ffff_f000n, 4096), { ok: false, errno: 14 }, 'kernel half');
});

t.test('read() returns exactly the bytes asked for, across pages', async (t) => {
  const { buf, base, off } = pageAligned(3);
  for (let i = 0; i < 3 * PAGE; i++) buf[off + i] = i & 0xff;
  const r = mem.read(base + BigInt(off + 10), 2 * PAGE + 7);
  if (!r.ok) return t.fail(`errno ${r.errno}`);
  t.equal(r.bytes.length, 2 * PAGE + 7);
  t.ok(r.bytes.equals(buf.subarray(off + 10, off + 10 + 2 * PAGE + 7)));
  t.same(mem.read(base, 0), { ok: true, bytes: Buffer.alloc(0) });
});

t.test('the /proc/<pid>/mem fd serves when process_vm_readv is refused', async (t) => {
  const memFd = fs.openSync(`/proc/${process.pid}/mem`, 'r');
  t.teardown(() => fs.closeSync(memFd));
  // A pid that does not exist makes process_vm_readv fail with ESRCH, not EPERM: no fallback.
  const gone = new TargetMemory(0x3fffffff, memFd);
  const { buf, base, off } = pageAligned(1);
  buf.write('x\0', off, 'latin1');
  t.same(gone.readString(base + BigInt(off), 16), { ok: false, errno: 3 }, 'ESRCH is reported, not guessed');
});

t.test('write() puts bytes into the target and refuses unmapped memory', async (t) => {
  const { buf, base, off } = pageAligned(1);
  t.equal(mem.write(base + BigInt(off + 8), Buffer.from('sysinfo!')), 0);
  t.equal(buf.toString('latin1', off + 8, off + 16), 'sysinfo!');
  t.equal(mem.write(0x10n, Buffer.from('x')), 14);
  const memFd = fs.openSync(`/proc/${process.pid}/mem`, 'r+');
  t.teardown(() => fs.closeSync(memFd));
  const viaFd = new TargetMemory(process.pid, memFd);
  t.equal(viaFd.write(base + BigInt(off + 100), Buffer.from('via fd')), 0);
  t.equal(buf.toString('latin1', off + 100, off + 106), 'via fd');
  t.equal(viaFd.write(0x10n, Buffer.from('x')), 14, 'process_vm_writev answers first: EFAULT');
});
