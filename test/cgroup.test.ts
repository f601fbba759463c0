// Reading a container's cgroups on fixture trees: cgroup v2, v1, and the hybrid layout
// (v1 controllers beside a controller-less cgroup2 at /sys/fs/cgroup/unified).

import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { parseCgroupLimit, parseCgroupValue, parseFlatKeyed, parseProcCgroup } from '../protocol/cgroup.js';
import type { Sysinfo } from '../protocol/sysinfo.js';
import { locateController, pathUp, unifiedMount } from '../src/cgroup/locate.js';
import { minLimit, readMemory, saturatingSub } from '../src/cgroup/memory.js';
import { readFile } from '../src/cgroup/files.js';
import { readPids } from '../src/cgroup/pids.js';
import { containerSysinfo, readContainerFacts } from '../src/handlers/sysinfo.js';

const MiB = 1n << 20n;
const READ_ERROR = { name: 'CgroupReadError', code: 'ICD_CGROUP_READ' };
const V1_UNLIMITED = '9223372036854771712\n';
const PID = 4242;
const STAT = `${PID} (init) S 1 ${PID} ${PID} 0 -1 4194560 119 0 0 0 0 0 0 0 20 0 1 0 147565 2322432 332 0\n`;

/** A fixture tree: `path → content`; a path ending in `/` is an empty directory. */
function tree(t: Test, files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'interceptd-cgroup-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(root, rel);
    if (rel.endsWith('/')) {
      fs.mkdirSync(p, { recursive: true });
      continue;
    }
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
  return root;
}

function procFiles(cgroup: string): Record<string, string> {
  return { [`proc/${PID}/cgroup`]: cgroup, [`proc/${PID}/stat`]: STAT, 'proc/uptime': '1500.07 1911.21\n' };
}

/** A v2 container cgroup at `dir` (relative to the cgroup2 mount). */
function v2Container(mount: string, dir: string, over: Record<string, string | undefined> = {}): Record<string, string> {
  const files: Record<string, string | undefined> = {
    'memory.max': '268435456\n',
    'memory.current': '104857600\n',
    'memory.stat': 'anon 52428800\nfile 31457280\nkernel 1048576\nshmem 2097152\nfile_mapped 0\n',
    'memory.swap.max': 'max\n',
    'memory.swap.current': '4096\n',
    'pids.current': '3\n',
    ...over,
  };
  return Object.fromEntries(
    Object.entries(files)
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([name, content]) => [path.join(mount, dir, name), content]),
  );
}

/** v1 memory and pids cgroups at `dir` in their own hierarchies. */
function v1Container(dir: string, over: Record<string, string | undefined> = {}): Record<string, string> {
  const files: Record<string, string | undefined> = {
    'memory/memory.limit_in_bytes': V1_UNLIMITED,
    'memory/memory.memsw.limit_in_bytes': V1_UNLIMITED,
    'memory/memory.usage_in_bytes': '999999999\n',
    [`memory${dir}/memory.limit_in_bytes`]: '268435456\n',
    [`memory${dir}/memory.memsw.limit_in_bytes`]: '402653184\n',
    [`memory${dir}/memory.usage_in_bytes`]: '104857600\n',
    [`memory${dir}/memory.memsw.usage_in_bytes`]: '113246208\n',
    [`memory${dir}/memory.stat`]: 'cache 100\nrss 200\nshmem 300\ntotal_cache 31457280\ntotal_rss 52428800\ntotal_shmem 2097152\n',
    [`pids${dir}/pids.current`]: '4\n',
    ...over,
  };
  return Object.fromEntries(
    Object.entries(files)
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([name, content]) => [`sys/fs/cgroup/${name}`, content]),
  );
}

const HOST: Sysinfo = {
  uptime: 100000n,
  loads: [1n, 2n, 3n],
  totalram: 16384n * MiB,
  freeram: 8192n * MiB,
  sharedram: 0n,
  bufferram: 0n,
  totalswap: 2048n * MiB,
  freeswap: 2048n * MiB,
  procs: 100,
  totalhigh: 0n,
  freehigh: 0n,
};

const V1_LINES = '9:name=systemd:/lxc.payload.c1\n8:pids:/lxc.payload.c1\n4:memory:/lxc.payload.c1\n2:cpu,cpuacct:/lxc.payload.c1\n';

// protocol/cgroup.ts

t.test('parseProcCgroup: v2, v1 and hybrid lines', async (t) => {
  const hybrid = parseProcCgroup(`${V1_LINES}0::/lxc.payload.c1\n`);
  t.equal(hybrid?.unified, '/lxc.payload.c1');
  t.same(hybrid?.v1.get('memory'), { path: '/lxc.payload.c1', hierarchy: 'memory' });
  t.same(hybrid?.v1.get('cpuacct'), { path: '/lxc.payload.c1', hierarchy: 'cpu,cpuacct' }, 'co-mounted');
  t.ok(hybrid?.v1.has('name=systemd'));
  const v2 = parseProcCgroup('0::/\n');
  t.equal(v2?.unified, '/', 'the root cgroup');
  t.equal(v2?.v1.size, 0);
  t.equal(parseProcCgroup(V1_LINES)?.unified, undefined, 'pure v1');
});

t.test('parseProcCgroup: a trailing init.scope is the container itself', async (t) => {
  t.equal(parseProcCgroup('0::/lxc.payload.c1/init.scope\n')?.unified, '/lxc.payload.c1');
  t.equal(parseProcCgroup('0::/init.scope\n')?.unified, '/');
  t.equal(parseProcCgroup('0::/a/init.scope/b\n')?.unified, '/a/init.scope/b', 'only the last component');
});

t.test('parseProcCgroup: malformed or hostile text is refused', async (t) => {
  t.equal(parseProcCgroup('0::/a/../../etc\n'), undefined, '..');
  t.equal(parseProcCgroup('0::/a/./b\n'), undefined, '.');
  t.equal(parseProcCgroup('0::relative\n'), undefined, 'not absolute');
  t.equal(parseProcCgroup('0::/a\n0::/b\n'), undefined, 'two cgroup2 lines');
  t.equal(parseProcCgroup('4:memory:/a\n5:memory:/b\n'), undefined, 'memory twice');
  t.equal(parseProcCgroup('x:memory:/a\n'), undefined, 'hierarchy id not a number');
  t.equal(parseProcCgroup('garbage\n'), undefined);
  t.equal(parseProcCgroup('0::/a\0b\n'), undefined, 'NUL');
  t.same(parseProcCgroup(''), { unified: undefined, v1: new Map() }, 'empty: no cgroups at all');
});

t.test('parseCgroupLimit / parseCgroupValue / parseFlatKeyed', async (t) => {
  t.equal(parseCgroupLimit('max\n'), 'max');
  t.equal(parseCgroupLimit('268435456\n'), 268435456n);
  t.equal(parseCgroupLimit(V1_UNLIMITED), 9223372036854771712n, 'beyond 2^53, exact');
  t.equal(parseCgroupLimit('18446744073709551615'), 0xffff_ffff_ffff_ffffn);
  t.equal(parseCgroupLimit('18446744073709551616'), undefined, 'beyond u64');
  t.equal(parseCgroupLimit('-1'), undefined);
  t.equal(parseCgroupLimit(''), undefined);
  t.equal(parseCgroupLimit('12 34'), undefined);
  t.equal(parseCgroupValue('max'), undefined, 'a usage is never max');
  t.equal(parseCgroupValue('3\n'), 3n);
  const stat = parseFlatKeyed('anon 5\nfile 7\nbad line here\nshmem x\n\nzswap 9');
  t.same([...stat], [['anon', 5n], ['file', 7n], ['zswap', 9n]]);
});

t.test('the cgroup parsers never throw on hostile text, and accepted paths stay inside', async (t) => {
  const line = fc.oneof(
    fc.string(),
    fc.tuple(fc.constantFrom('0', '4', 'x', ''), fc.constantFrom('', 'memory', 'pids', 'cpu,cpuacct'), fc.array(fc.constantFrom('a', '..', '.', '', 'init.scope', '\0', ':'), { maxLength: 5 }))
      .map(([id, ctrl, parts]) => `${id}:${ctrl}:/${parts.join('/')}`),
  );
  let accepted = 0;
  fc.assert(
    fc.property(fc.array(line, { maxLength: 6 }), (lines) => {
      const r = parseProcCgroup(lines.join('\n'));
      if (r === undefined) return;
      accepted++;
      for (const p of [r.unified, ...[...r.v1.values()].map((v) => v.path)]) {
        if (p === undefined) continue;
        if (!p.startsWith('/') || p.split('/').some((c) => c === '..' || c === '.') || p.includes('\0')) throw new Error(`unsafe path ${p}`);
      }
    }),
    { numRuns: 3000 },
  );
  t.ok(accepted > 0, `${accepted} inputs accepted and checked`);
  fc.assert(
    fc.property(fc.string(), (text) => {
      parseCgroupLimit(text);
      parseCgroupValue(text);
      parseFlatKeyed(text);
    }),
    { numRuns: 2000 },
  );
});

t.test('minLimit and saturatingSub', async (t) => {
  t.equal(minLimit('max', 'max'), 'max');
  t.equal(minLimit('max', 5n), 5n);
  t.equal(minLimit(5n, 'max'), 5n);
  t.equal(minLimit(7n, 5n), 5n);
  t.equal(saturatingSub(5n, 7n), 0n);
  t.equal(saturatingSub(7n, 5n), 2n);
  t.equal(saturatingSub(0n, 0n), 0n);
});

// cgroup v2

t.test('v2 (/sys/fs/cgroup): memory, swap and pids of the container cgroup', async (t) => {
  const root = tree(t, {
    'sys/fs/cgroup/cgroup.controllers': 'cpuset cpu io memory pids\n',
    ...v2Container('sys/fs/cgroup', 'lxc.payload.c1'),
    ...procFiles('0::/lxc.payload.c1\n'),
  });
  t.equal(unifiedMount(root), path.join(root, 'sys/fs/cgroup'));
  const cgroups = parseProcCgroup('0::/lxc.payload.c1\n')!;
  const mem = locateController(root, cgroups, 'memory');
  t.same(mem, { version: 2, mount: path.join(root, 'sys/fs/cgroup'), dir: path.join(root, 'sys/fs/cgroup/lxc.payload.c1') });
  t.same(readMemory(mem!), { limit: 256n * MiB, usage: 100n * MiB, shmem: 2n * MiB, file: 30n * MiB, swap: { limit: 'max', usage: 4096n } });
  t.equal(readPids(locateController(root, cgroups, 'pids')!), 3n);
  t.same(readContainerFacts(root, PID), {
    memory: { limit: 256n * MiB, usage: 100n * MiB, shmem: 2n * MiB, file: 30n * MiB, swap: { limit: 'max', usage: 4096n } },
    tasks: 3n,
    initStart: 147565n,
    hostUptime: 1500.07,
  });
});

t.test('v2: a stricter ancestor limit wins; init.scope is stripped; the root has no memory.max', async (t) => {
  const root = tree(t, {
    'sys/fs/cgroup/cgroup.controllers': 'memory pids\n',
    'sys/fs/cgroup/a/memory.max': '104857600\n',
    'sys/fs/cgroup/a/memory.swap.max': '1048576\n',
    'sys/fs/cgroup/a/b/memory.max': 'max\n',
    ...v2Container('sys/fs/cgroup', 'a/b/c1', { 'memory.swap.max': '8388608\n' }),
    ...procFiles('0::/a/b/c1/init.scope\n'),
  });
  const facts = readContainerFacts(root, PID);
  t.equal(facts.memory.limit, 100n * MiB, 'the ancestor /a');
  t.same(facts.memory.swap, { limit: MiB, usage: 4096n }, 'swap limit from the ancestor too');
  t.same(pathUp(locateController(root, parseProcCgroup('0::/a/b/c1')!, 'memory')!), [
    path.join(root, 'sys/fs/cgroup/a/b/c1'),
    path.join(root, 'sys/fs/cgroup/a/b'),
    path.join(root, 'sys/fs/cgroup/a'),
    path.join(root, 'sys/fs/cgroup'),
  ]);
});

t.test('v2: max everywhere means no limit; missing swap files mean no swap accounting', async (t) => {
  const root = tree(t, {
    'sys/fs/cgroup/cgroup.controllers': 'memory pids\n',
    ...v2Container('sys/fs/cgroup', 'c1', { 'memory.max': 'max\n', 'memory.swap.max': undefined, 'memory.swap.current': undefined }),
    ...procFiles('0::/c1\n'),
  });
  const m = readContainerFacts(root, PID).memory;
  t.equal(m.limit, 'max');
  t.equal(m.swap, undefined);
});

t.test('v2: usage above the limit gives freeram 0, never a wrapped value', async (t) => {
  const root = tree(t, {
    'sys/fs/cgroup/cgroup.controllers': 'memory pids\n',
    ...v2Container('sys/fs/cgroup', 'c1', { 'memory.current': '300000000\n' }),
    ...procFiles('0::/c1\n'),
  });
  const s = containerSysinfo(readContainerFacts(root, PID), HOST, 100);
  t.equal(s.totalram, 256n * MiB);
  t.equal(s.freeram, 0n);
  t.equal(s.uptime, 25n, '1500.07 s - 147565 ticks / 100, rounded up');
});

// cgroup v1

t.test('v1: memory and pids hierarchies, swap = memsw - memory', async (t) => {
  const root = tree(t, { ...v1Container('/lxc.payload.c1'), ...procFiles(V1_LINES) });
  t.equal(unifiedMount(root), undefined, 'no cgroup2 at all');
  const cgroups = parseProcCgroup(V1_LINES)!;
  const mem = locateController(root, cgroups, 'memory');
  t.same(mem, { version: 1, mount: path.join(root, 'sys/fs/cgroup/memory'), dir: path.join(root, 'sys/fs/cgroup/memory/lxc.payload.c1') });
  t.same(readContainerFacts(root, PID).memory, {
    limit: 256n * MiB,
    usage: 100n * MiB,
    shmem: 2n * MiB,
    file: 30n * MiB,
    swap: { limit: 128n * MiB, usage: 8n * MiB },
  }, 'total_* of memory.stat, not the cgroup-local counters');
  t.equal(readContainerFacts(root, PID).tasks, 4n);
});

t.test('v1: a stricter ancestor limit wins, for memory and for memory+swap', async (t) => {
  const root = tree(t, {
    ...v1Container('/parent/c1'),
    'sys/fs/cgroup/memory/parent/memory.limit_in_bytes': '134217728\n',
    'sys/fs/cgroup/memory/parent/memory.memsw.limit_in_bytes': '201326592\n',
    ...procFiles('8:pids:/parent/c1\n4:memory:/parent/c1\n'),
  });
  const m = readContainerFacts(root, PID).memory;
  t.equal(m.limit, 128n * MiB);
  t.same(m.swap, { limit: 64n * MiB, usage: 8n * MiB }, '192 MiB memsw - 128 MiB memory');
});

t.test('v1: without swap accounting (no memsw files) there is no swap', async (t) => {
  const root = tree(t, {
    ...v1Container('/c1', {
      'memory/memory.memsw.limit_in_bytes': undefined,
      'memory/c1/memory.memsw.limit_in_bytes': undefined,
      'memory/c1/memory.memsw.usage_in_bytes': undefined,
    }),
    ...procFiles('8:pids:/c1\n4:memory:/c1\n'),
  });
  t.equal(readContainerFacts(root, PID).memory.swap, undefined);
});

t.test('v1: an unlimited cgroup and unlimited memsw are capped at the host', async (t) => {
  const root = tree(t, {
    ...v1Container('/c1', { 'memory/c1/memory.limit_in_bytes': V1_UNLIMITED, 'memory/c1/memory.memsw.limit_in_bytes': V1_UNLIMITED }),
    ...procFiles('8:pids:/c1\n4:memory:/c1\n'),
  });
  const facts = readContainerFacts(root, PID);
  t.same([facts.memory.limit, facts.memory.swap?.limit], ['max', 'max'], "v1's PAGE_COUNTER_MAX reads as no limit");
  const s = containerSysinfo(facts, HOST, 100);
  t.equal(s.totalram, HOST.totalram);
  t.equal(s.totalswap, HOST.totalswap, 'memsw and memory unlimited: the host swap');
  const capped = tree(t, {
    ...v1Container('/c1', { 'memory/c1/memory.memsw.limit_in_bytes': V1_UNLIMITED }),
    ...procFiles('8:pids:/c1\n4:memory:/c1\n'),
  });
  t.equal(containerSysinfo(readContainerFacts(capped, PID), HOST, 100).totalswap, HOST.totalswap, 'memsw unlimited: the host swap');
  const noSwap = tree(t, {
    ...v1Container('/c1', { 'memory/c1/memory.memsw.limit_in_bytes': '268435456\n' }),
    ...procFiles('8:pids:/c1\n4:memory:/c1\n'),
  });
  t.equal(containerSysinfo(readContainerFacts(noSwap, PID), HOST, 100).totalswap, 0n, 'memsw = memory: no swap');
  const onlyMemsw = tree(t, {
    ...v1Container('/c1', { 'memory/c1/memory.limit_in_bytes': V1_UNLIMITED }),
    ...procFiles('8:pids:/c1\n4:memory:/c1\n'),
  });
  t.same(readContainerFacts(onlyMemsw, PID).memory.swap, { limit: 0n, usage: 8n * MiB }, 'memory unlimited, memsw limited: no swap counted');
});

// Hybrid

t.test('hybrid (this CI host): v1 memory and pids beside a controller-less cgroup2 at unified', async (t) => {
  const root = tree(t, {
    ...v1Container('/lxc.payload.c1'),
    'sys/fs/cgroup/unified/cgroup.controllers': '',
    'sys/fs/cgroup/unified/lxc.payload.c1/cgroup.procs': '',
    ...procFiles(`${V1_LINES}0::/lxc.payload.c1\n`),
  });
  t.equal(unifiedMount(root), path.join(root, 'sys/fs/cgroup/unified'));
  const cgroups = parseProcCgroup(`${V1_LINES}0::/lxc.payload.c1\n`)!;
  t.equal(locateController(root, cgroups, 'memory')?.version, 1);
  t.equal(locateController(root, cgroups, 'pids')?.version, 1);
  const facts = readContainerFacts(root, PID);
  t.equal(facts.memory.limit, 256n * MiB);
  t.equal(facts.tasks, 4n);
});

t.test('hybrid: a controller bound to cgroup2 is read there, the others from v1', async (t) => {
  const root = tree(t, {
    'sys/fs/cgroup/pids/c1/pids.current': '9\n',
    'sys/fs/cgroup/unified/cgroup.controllers': 'memory\n',
    ...v2Container('sys/fs/cgroup/unified', 'c1', { 'memory.max': '67108864\n', 'pids.current': undefined }),
    ...procFiles('8:pids:/c1\n0::/c1\n'),
  });
  const cgroups = parseProcCgroup('8:pids:/c1\n0::/c1\n')!;
  t.same(locateController(root, cgroups, 'memory'), {
    version: 2,
    mount: path.join(root, 'sys/fs/cgroup/unified'),
    dir: path.join(root, 'sys/fs/cgroup/unified/c1'),
  });
  const facts = readContainerFacts(root, PID);
  t.equal(facts.memory.limit, 64n * MiB);
  t.equal(facts.tasks, 9n, 'pids from v1');
});

t.test('a v1 line whose hierarchy is not mounted falls back to cgroup2 when the controller is there', async (t) => {
  const root = tree(t, {
    'sys/fs/cgroup/cgroup.controllers': 'memory pids\n',
    ...v2Container('sys/fs/cgroup', 'c1'),
    ...procFiles('4:memory:/c1\n0::/c1\n'),
  });
  t.equal(locateController(root, parseProcCgroup('4:memory:/c1\n0::/c1\n')!, 'memory')?.version, 2);
});

// Failures: every one is a CgroupReadError, which the handler turns into CONTINUE

t.test('unreadable or malformed data throws CgroupReadError', async (t) => {
  const v2 = (over: Record<string, string | undefined>, lines = '0::/c1\n'): string =>
    tree(t, { 'sys/fs/cgroup/cgroup.controllers': 'memory pids\n', ...v2Container('sys/fs/cgroup', 'c1', over), ...procFiles(lines) });
  t.throws(() => readContainerFacts(v2({}), PID + 1), READ_ERROR, 'no /proc/<pid>/cgroup (init gone)');
  t.throws(() => readContainerFacts(v2({ 'memory.stat': undefined }), PID), READ_ERROR, 'no memory.stat');
  t.throws(() => readContainerFacts(v2({ 'memory.stat': 'anon 1\nshmem 2\n' }), PID), READ_ERROR, 'no file key');
  t.throws(() => readContainerFacts(v2({ 'memory.max': 'lots\n' }), PID), READ_ERROR, 'garbage limit');
  t.throws(() => readContainerFacts(v2({ 'memory.current': 'max\n' }), PID), READ_ERROR, 'usage "max"');
  t.throws(() => readContainerFacts(v2({ 'memory.swap.current': '' }), PID), READ_ERROR, 'empty swap usage');
  t.throws(() => readContainerFacts(v2({ 'memory.current': undefined }), PID), READ_ERROR, 'no memory controller');
  t.throws(() => readContainerFacts(v2({ 'pids.current': undefined }), PID), READ_ERROR, 'no pids controller');
  t.throws(() => readContainerFacts(v2({}, '0::/c1/../c1\n'), PID), READ_ERROR, 'a path with ..');
  t.throws(() => readContainerFacts(v2({}, '0::/other\n'), PID), READ_ERROR, 'cgroup directory missing');
  const dirAsFile = v2({});
  fs.mkdirSync(path.join(dirAsFile, 'sys/fs/cgroup/memory.max'));
  t.throws(() => readContainerFacts(dirAsFile, PID), READ_ERROR, 'an ancestor file that cannot be read (EISDIR)');
  const noStat = v2({});
  fs.rmSync(path.join(noStat, `proc/${PID}/stat`));
  t.throws(() => readContainerFacts(noStat, PID), READ_ERROR, 'no /proc/<pid>/stat');
  const badUptime = v2({});
  fs.writeFileSync(path.join(badUptime, 'proc/uptime'), 'soon\n');
  t.throws(() => readContainerFacts(badUptime, PID), READ_ERROR, 'garbage /proc/uptime');
  t.throws(() => readContainerFacts(tree(t, procFiles('0::/c1\n')), PID), READ_ERROR, 'no cgroup mount at all');
});

t.test('readFile: whole files of every size around its 16 KiB buffer, and re-reads after a change', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'icd-files-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const size of [0, 1, 4095, 16383, 16384, 16385, 50_000]) {
    const file = path.join(dir, `f${size}`);
    const text = Array.from({ length: size }, (_, i) => String.fromCharCode(97 + ((i * 7) % 26))).join('');
    fs.writeFileSync(file, text);
    t.equal(readFile(file), text, `${size} bytes`);
    const shorter = text.slice(0, Math.floor(size / 2)).toUpperCase();
    fs.writeFileSync(file, shorter);
    t.equal(readFile(file), shorter, `${size} bytes, then rewritten shorter: the cached fd reads the new text`);
  }
  t.equal(readFile('/proc/self/status').split('\n').find((l) => l.startsWith('Pid:')), `Pid:\t${process.pid}`, 'a procfs file');
});
