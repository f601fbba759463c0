import fc from 'fast-check';
import t from 'tap';
import { CONTINUE } from '../protocol/answer.js';
import { EMPTY_POLICY, type Policy } from '../compat/keys.js';
import { parseStartTime, parseUptime } from '../protocol/proc-stat.js';
import type { Notification } from '../protocol/seccomp.js';
import {
  SYSINFO_I386_SIZE,
  SYSINFO_NATIVE_SIZE,
  compatMemUnitShift,
  decodeSysinfoNative,
  encodeSysinfo,
  encodeSysinfoI386,
  encodeSysinfoNative,
  type Sysinfo,
} from '../protocol/sysinfo.js';
import type { Abi } from '../protocol/syscalls.js';
import { c } from '../native/libc.js';
import { CLK_TCK, hostSysinfo } from '../native/host.js';
import { silentLogger } from '../src/core/log.js';
import type { MemoryFigures } from '../src/cgroup/memory.js';
import type { Request, Services } from '../src/handlers/types.js';
import {
  PROCS_MAX,
  callerBuffer,
  containerSysinfo,
  containerUptime,
  sysinfoHandler,
  type ContainerFacts,
} from '../src/handlers/sysinfo.js';

const GiB = 1n << 30n;
const MiB = 1n << 20n;

/** Every field distinct, so a field written at the wrong offset shows. */
const SAMPLE: Sysinfo = {
  uptime: 1234n,
  loads: [65536n, 131072n, 196608n],
  totalram: 256n * MiB,
  freeram: 200n * MiB,
  sharedram: 3n * MiB,
  bufferram: 40n * MiB,
  totalswap: 64n * MiB,
  freeswap: 60n * MiB,
  procs: 7,
  totalhigh: 11n,
  freehigh: 13n,
};

// protocol/sysinfo.ts: native layout

t.test('native layout: 112 bytes, every field at its documented offset, mem_unit 1', async (t) => {
  const b = encodeSysinfoNative(SAMPLE);
  t.equal(b.length, SYSINFO_NATIVE_SIZE);
  t.equal(b.length, 112);
  t.equal(b.readBigInt64LE(0), 1234n, 'uptime @0');
  t.equal(b.readBigUInt64LE(8), 65536n, 'loads[0] @8');
  t.equal(b.readBigUInt64LE(16), 131072n, 'loads[1] @16');
  t.equal(b.readBigUInt64LE(24), 196608n, 'loads[2] @24');
  t.equal(b.readBigUInt64LE(32), 256n * MiB, 'totalram @32');
  t.equal(b.readBigUInt64LE(40), 200n * MiB, 'freeram @40');
  t.equal(b.readBigUInt64LE(48), 3n * MiB, 'sharedram @48');
  t.equal(b.readBigUInt64LE(56), 40n * MiB, 'bufferram @56');
  t.equal(b.readBigUInt64LE(64), 64n * MiB, 'totalswap @64');
  t.equal(b.readBigUInt64LE(72), 60n * MiB, 'freeswap @72');
  t.equal(b.readUInt16LE(80), 7, 'procs @80');
  t.equal(b.readUInt16LE(82), 0, 'pad @82');
  t.equal(b.readUInt32LE(84), 0, 'alignment @84');
  t.equal(b.readBigUInt64LE(88), 11n, 'totalhigh @88');
  t.equal(b.readBigUInt64LE(96), 13n, 'freehigh @96');
  t.equal(b.readUInt32LE(104), 1, 'mem_unit @104');
  t.equal(b.readUInt32LE(108), 0, 'tail padding @108');
});

t.test('native layout: decode(encode(x)) is x, and memory beyond 4 GiB is kept whole', async (t) => {
  const big = { ...SAMPLE, totalram: 96n * GiB, freeram: 90n * GiB, totalswap: 8n * GiB };
  t.same(decodeSysinfoNative(encodeSysinfoNative(big)), big);
  t.equal(decodeSysinfoNative(Buffer.alloc(111)), undefined, 'short buffer');
  t.equal(decodeSysinfoNative(Buffer.alloc(112)), undefined, 'mem_unit 0');
});

t.test('native decoder converts sizes to bytes when mem_unit is not 1', async (t) => {
  const b = encodeSysinfoNative({ ...SAMPLE, totalram: 1000n, freeram: 10n, totalhigh: 2n });
  b.writeUInt32LE(4096, 104);
  const d = decodeSysinfoNative(b);
  t.equal(d?.totalram, 1000n * 4096n);
  t.equal(d?.freeram, 10n * 4096n);
  t.equal(d?.totalhigh, 2n * 4096n);
  t.equal(d?.uptime, 1234n, 'uptime is not a size');
  t.equal(d?.procs, 7);
});

t.test("the host kernel's own struct re-encodes byte for byte (the layout is the kernel's)", async (t) => {
  const raw = Buffer.alloc(SYSINFO_NATIVE_SIZE, 0xa5);
  t.equal(c.sysinfo(raw), 0);
  t.equal(raw.readUInt32LE(104), 1, 'the 64-bit kernel reports mem_unit 1');
  const decoded = decodeSysinfoNative(raw);
  if (decoded === undefined) return t.fail('undecodable');
  t.ok(encodeSysinfoNative(decoded).equals(raw));
  const host = hostSysinfo();
  t.ok(host !== undefined && host.totalram > 0n, 'hostSysinfo() works');
  t.ok(Number.isInteger(CLK_TCK) && CLK_TCK > 0, `CLK_TCK from sysconf = ${CLK_TCK}`);
});

// protocol/sysinfo.ts: i386 layout

t.test('i386 layout: 64 bytes, every field at its documented offset', async (t) => {
  const b = encodeSysinfoI386(SAMPLE);
  t.equal(b.length, SYSINFO_I386_SIZE);
  t.equal(b.length, 64);
  t.equal(b.readInt32LE(0), 1234, 'uptime @0');
  t.equal(b.readUInt32LE(4), 65536, 'loads[0] @4');
  t.equal(b.readUInt32LE(8), 131072, 'loads[1] @8');
  t.equal(b.readUInt32LE(12), 196608, 'loads[2] @12');
  t.equal(b.readUInt32LE(16), Number(256n * MiB), 'totalram @16');
  t.equal(b.readUInt32LE(20), Number(200n * MiB), 'freeram @20');
  t.equal(b.readUInt32LE(24), Number(3n * MiB), 'sharedram @24');
  t.equal(b.readUInt32LE(28), Number(40n * MiB), 'bufferram @28');
  t.equal(b.readUInt32LE(32), Number(64n * MiB), 'totalswap @32');
  t.equal(b.readUInt32LE(36), Number(60n * MiB), 'freeswap @36');
  t.equal(b.readUInt16LE(40), 7, 'procs @40');
  t.equal(b.readUInt16LE(42), 0, 'pad @42');
  t.equal(b.readUInt32LE(44), 11, 'totalhigh @44');
  t.equal(b.readUInt32LE(48), 13, 'freehigh @48');
  t.equal(b.readUInt32LE(52), 1, 'mem_unit @52: everything fits 32 bits');
  t.ok(b.subarray(56, 64).equals(Buffer.alloc(8)), '_f padding @56 is zero');
});

t.test('i386: totalram of 4 GiB or more → mem_unit 4096 and every size shifted by 12', async (t) => {
  const s = { ...SAMPLE, totalram: 4n * GiB, freeram: 12345n, sharedram: 8192n, bufferram: 4096n, totalswap: 3n * GiB, freeswap: GiB, totalhigh: 40960n, freehigh: 4095n };
  t.equal(compatMemUnitShift(s), 12n);
  const b = encodeSysinfoI386(s);
  t.equal(b.readUInt32LE(52), 4096, 'mem_unit');
  t.equal(b.readUInt32LE(16), 1 << 20, 'totalram = 4 GiB / 4096');
  t.equal(b.readUInt32LE(20), 3, 'freeram 12345 >> 12');
  t.equal(b.readUInt32LE(24), 2, 'sharedram');
  t.equal(b.readUInt32LE(28), 1, 'bufferram');
  t.equal(b.readUInt32LE(32), 3 << 18, 'totalswap');
  t.equal(b.readUInt32LE(36), 1 << 18, 'freeswap');
  t.equal(b.readUInt32LE(44), 10, 'totalhigh');
  t.equal(b.readUInt32LE(48), 0, 'freehigh 4095 >> 12');
  t.equal(b.readInt32LE(0), 1234, 'uptime is not scaled');
  t.equal(b.readUInt32LE(4), 65536, 'loads are not scaled');
  t.equal(b.readUInt16LE(40), 7, 'procs is not scaled');
});

t.test('i386: the 32-bit test is on totalram and totalswap only, at the exact boundary', async (t) => {
  t.equal(compatMemUnitShift({ totalram: (1n << 32n) - 1n, totalswap: 0n }), 0n, '4 GiB - 1 fits');
  t.equal(compatMemUnitShift({ totalram: 1n << 32n, totalswap: 0n }), 12n, '4 GiB does not');
  t.equal(compatMemUnitShift({ totalram: MiB, totalswap: 1n << 32n }), 12n, 'a large swap alone scales');
  const b = encodeSysinfoI386({ ...SAMPLE, totalram: (1n << 32n) - 1n });
  t.equal(b.readUInt32LE(52), 1);
  t.equal(b.readUInt32LE(16), 0xffffffff);
  const swapOnly = encodeSysinfoI386({ ...SAMPLE, totalram: 256n * MiB, totalswap: 8n * GiB });
  t.equal(swapOnly.readUInt32LE(52), 4096);
  t.equal(swapOnly.readUInt32LE(16), 65536, 'totalram in pages as well');
});

t.test('i386: uptime and loads are truncated to 32 bits as the kernel assigns them', async (t) => {
  const b = encodeSysinfoI386({ ...SAMPLE, uptime: (1n << 31n) + 5n, loads: [(1n << 32n) + 9n, 0n, 0n] });
  t.equal(b.readInt32LE(0), -(2 ** 31) + 5, 's32 uptime');
  t.equal(b.readUInt32LE(4), 9, 'u32 load');
});

t.test('i386, any sizes: 64 bytes, and totalram × mem_unit is the size to within a page (below 16 TiB)', async (t) => {
  const size = fc.bigInt({ min: 0n, max: (1n << 44n) - 1n });
  fc.assert(
    fc.property(size, size, (totalram, totalswap) => {
      const b = encodeSysinfoI386({ ...SAMPLE, totalram, freeram: totalram / 2n, totalswap, freeswap: totalswap });
      if (b.length !== 64) throw new Error('not 64 bytes');
      const unit = BigInt(b.readUInt32LE(52));
      const ram = BigInt(b.readUInt32LE(16)) * unit;
      const swap = BigInt(b.readUInt32LE(32)) * unit;
      if (unit !== 1n && unit !== 4096n) throw new Error(`mem_unit ${unit}`);
      if (totalram - ram >= unit || ram > totalram || totalswap - swap >= unit || swap > totalswap) throw new Error(`${totalram}/${totalswap} → ${ram}/${swap}`);
      if ((unit === 1n) !== (totalram < 1n << 32n && totalswap < 1n << 32n)) throw new Error('scaled when it fits, or not when it does not');
    }),
    { numRuns: 3000 },
  );
  t.pass('held for 3000 random sizes');
});

t.test('decodeSysinfoNative never throws on random bytes', async (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => void decodeSysinfoNative(Buffer.from(bytes))), { numRuns: 2000 });
  t.pass('no exception');
});

t.test('procs is a u16: the encoders clamp, never wrap', async (t) => {
  t.equal(encodeSysinfoNative({ ...SAMPLE, procs: 70000 }).readUInt16LE(80), 65535);
  t.equal(encodeSysinfoI386({ ...SAMPLE, procs: 65536 }).readUInt16LE(40), 65535);
});

t.test('encodeSysinfo picks the size by layout', async (t) => {
  t.equal(encodeSysinfo(SAMPLE, 'native').length, 112);
  t.equal(encodeSysinfo(SAMPLE, 'i386').length, 64);
});

// src/handlers/sysinfo.ts: the layout for each ABI

t.test('callerBuffer: i386 gets the 64-byte struct and a 32-bit pointer; the others native', async (t) => {
  const ptr = 0xdeadbeef_0804a000n;
  t.same(callerBuffer('i386', ptr), { layout: 'i386', ptr: 0x0804a000n });
  for (const abi of ['x86_64', 'x32', 'aarch64'] satisfies Abi[]) {
    t.same(callerBuffer(abi, ptr), { layout: 'native', ptr }, abi);
  }
  t.equal(encodeSysinfo(SAMPLE, callerBuffer('i386', 0n).layout).length, 64, 'never 112 bytes into an i386 buffer');
});

// src/handlers/sysinfo.ts: the arithmetic

const HOST: Sysinfo = {
  uptime: 100000n,
  loads: [1000n, 2000n, 3000n],
  totalram: 16n * GiB,
  freeram: 8n * GiB,
  sharedram: GiB,
  bufferram: 2n * GiB,
  totalswap: 2n * GiB,
  freeswap: GiB,
  procs: 400,
  totalhigh: 0n,
  freehigh: 0n,
};

function memory(m: Partial<MemoryFigures>): MemoryFigures {
  return { limit: 256n * MiB, usage: 100n * MiB, shmem: 2n * MiB, file: 30n * MiB, swap: undefined, ...m };
}

function facts(f: Partial<ContainerFacts>): ContainerFacts {
  return { memory: memory({}), tasks: 5n, initStart: 990000n, hostUptime: 10000, ...f };
}

t.test('containerSysinfo: memory from the cgroup, loads and high memory from the host', async (t) => {
  const s = containerSysinfo(facts({}), HOST, 100);
  t.equal(s.totalram, 256n * MiB);
  t.equal(s.freeram, (256n - 100n - 30n) * MiB, 'limit - usage - file');
  t.equal(s.sharedram, 2n * MiB);
  t.equal(s.bufferram, 30n * MiB);
  t.same(s.loads, [1000n, 2000n, 3000n]);
  t.equal(s.totalhigh, 0n);
  t.equal(s.procs, 5);
  t.equal(s.uptime, 100n, '10000 s - 990000 ticks / 100');
});

t.test('totalram: no limit or a limit above the host is the host total', async (t) => {
  t.equal(containerSysinfo(facts({ memory: memory({ limit: 'max' }) }), HOST, 100).totalram, 16n * GiB);
  t.equal(containerSysinfo(facts({ memory: memory({ limit: 9223372036854771712n }) }), HOST, 100).totalram, 16n * GiB, 'v1 "unlimited"');
  t.equal(containerSysinfo(facts({ memory: memory({ limit: 16n * GiB - 1n }) }), HOST, 100).totalram, 16n * GiB - 1n);
});

t.test('freeram saturates at 0 (LXD wraps: defect 4)', async (t) => {
  t.equal(containerSysinfo(facts({ memory: memory({ usage: 300n * MiB }) }), HOST, 100).freeram, 0n, 'usage above the limit');
  t.equal(containerSysinfo(facts({ memory: memory({ usage: 200n * MiB, file: 100n * MiB }) }), HOST, 100).freeram, 0n, 'usage + file above the limit');
  t.equal(containerSysinfo(facts({ memory: memory({ usage: 256n * MiB, file: 0n }) }), HOST, 100).freeram, 0n, 'exactly full');
  t.equal(containerSysinfo(facts({ memory: memory({ usage: 255n * MiB, file: 0n }) }), HOST, 100).freeram, MiB);
});

t.test('swap: 0 without accounting, the limit capped at the host, free within [0, total]', async (t) => {
  t.equal(containerSysinfo(facts({}), HOST, 100).totalswap, 0n, 'no accounting: 0, not the host');
  t.equal(containerSysinfo(facts({}), HOST, 100).freeswap, 0n);
  const limited = containerSysinfo(facts({ memory: memory({ swap: { limit: 512n * MiB, usage: 12n * MiB } }) }), HOST, 100);
  t.equal(limited.totalswap, 512n * MiB);
  t.equal(limited.freeswap, 500n * MiB);
  const unlimited = containerSysinfo(facts({ memory: memory({ swap: { limit: 'max', usage: MiB } }) }), HOST, 100);
  t.equal(unlimited.totalswap, 2n * GiB, 'max → the host swap');
  t.equal(unlimited.freeswap, 2n * GiB - MiB);
  const over = containerSysinfo(facts({ memory: memory({ swap: { limit: 8n * GiB, usage: 3n * GiB } }) }), HOST, 100);
  t.equal(over.totalswap, 2n * GiB, 'capped at the host swap');
  t.equal(over.freeswap, 0n, 'usage above the total: 0');
  const noHostSwap = containerSysinfo(facts({ memory: memory({ swap: { limit: 'max', usage: 0n } }) }), { ...HOST, totalswap: 0n }, 100);
  t.equal(noHostSwap.totalswap, 0n, 'a host without swap');
});

t.test('procs clamps to 65535 (Incus wraps: defect 7)', async (t) => {
  t.equal(containerSysinfo(facts({ tasks: 65535n }), HOST, 100).procs, 65535);
  t.equal(containerSysinfo(facts({ tasks: 65536n }), HOST, 100).procs, PROCS_MAX);
  t.equal(containerSysinfo(facts({ tasks: 1n << 40n }), HOST, 100).procs, 65535);
  t.equal(containerSysinfo(facts({ tasks: 0n }), HOST, 100).procs, 0);
});

t.test('uptime uses the real tick rate and keeps precision (defect 5)', async (t) => {
  t.equal(containerUptime(10000, 990000n, 100), 100n);
  t.equal(containerUptime(10000, 9900000n, 1000), 100n, 'CLK_TCK 1000: not 99000 s as with a hard-coded 100');
  t.equal(containerUptime(10000, 2475000n, 250), 100n, 'CLK_TCK 250');
  t.equal(containerUptime(101.01, 9999n, 100), 2n, '1.02 s rounds up, as the kernel rounds its own');
  t.equal(containerUptime(100.5, 10050n, 100), 0n, 'just started');
  t.equal(containerUptime(100, 10100n, 100), 0n, 'never negative');
  t.equal(containerUptime(1436.06, 147565n, 100), 0n, 'clock skew between the two files');
  t.equal(containerUptime(1500.07, 147565n, 100), 25n, '24.42 s rounds up');
});

// The handler's early declines (no kernel needed)

function request(over: { policy?: Policy; listenerFd?: number; initPid?: number; abi?: Abi }): Request {
  const notif: Notification = { id: 1n, pid: process.pid, flags: 0, nr: 99, arch: 0xc000003e, ip: 0n, args: [0x1000n, 0n, 0n, 0n, 0n, 0n] };
  return {
    notif,
    syscall: { name: 'sysinfo', abi: over.abi ?? 'x86_64' },
    target: {
      pid: process.pid,
      procFd: -1,
      listenerFd: over.listenerFd ?? 3,
      memory: { write: () => { throw new Error('must not write'); } } as never,
    },
    container: { name: 'c1', initPid: over.initPid ?? process.pid },
    policy: over.policy ?? { ...EMPTY_POLICY, sysinfo: true },
    log: silentLogger(),
    debug: false,
    audit: () => {},
    started: 0,
    remainingMs: () => 5000,
  };
}

const services = {} as Services;

t.test('handler: interception off, no listener fd or no init pid → CONTINUE without writing', async (t) => {
  t.equal(sysinfoHandler.handle(request({ policy: EMPTY_POLICY }), services), CONTINUE, 'policy off');
  t.equal(sysinfoHandler.handle(request({ listenerFd: -1 }), services), CONTINUE, 'no listener');
  t.equal(sysinfoHandler.handle(request({ initPid: 0 }), services), CONTINUE, 'unknown init');
  t.equal(sysinfoHandler.handle(request({ initPid: 0x7ffffff0 }), services), CONTINUE, 'init gone: cgroup unreadable');
  t.same(sysinfoHandler.syscalls, ['sysinfo']);
});

// protocol/proc-stat.ts

t.test('parseStartTime: field 22, counted after the last ")"', async (t) => {
  const stat =
    '16993 (init) S 16992 16993 16993 0 -1 4194560 119 0 0 0 0 0 0 0 20 0 1 0 147565 2322432 332 18446744073709551615 4198400 5785993\n';
  t.equal(parseStartTime(stat), 147565n);
  t.equal(parseStartTime(stat.replace('(init)', '(a) b) c (d)')), 147565n, 'a command name with spaces and parentheses');
  t.equal(parseStartTime('16993 (init) S 1 2 3'), undefined, 'too short');
  t.equal(parseStartTime('16993 init S'), undefined, 'no command name');
  t.equal(parseStartTime(stat.replace('147565', '-5')), undefined, 'not a number');
});

t.test('parseUptime: the first number of /proc/uptime', async (t) => {
  t.equal(parseUptime('1436.06 1911.21\n'), 1436.06);
  t.equal(parseUptime('12 5\n'), 12);
  t.equal(parseUptime(''), undefined);
  t.equal(parseUptime('abc 1'), undefined);
  t.equal(parseUptime('-1.00 2'), undefined);
});
