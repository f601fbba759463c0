// sched_setscheduler in a real unprivileged LXC container: container root may raise
// its own or another container process's priority; nothing reaches a host process.

import fs from 'node:fs';
import t from 'tap';
import { USER_ID } from './lib/lxc.js';
import { requireContainers, startScenario, type Scenario } from './lib/scenario.js';

const SCHED_OTHER = 0;
const SCHED_FIFO = 1;
const SCHED_RR = 2;
const SCHED_BATCH = 3;
const SCHED_IDLE = 5;

/** cgroup v1 cpu directories of the container (payload and lxc-attach's .lxc child). */
function rtBudgetFiles(name: string): string[] {
  const base = `/sys/fs/cgroup/cpu/lxc.payload.${name}`;
  return [base, `${base}/.lxc`].map((d) => `${d}/cpu.rt_runtime_us`).filter((f) => fs.existsSync(f));
}

function setRtBudget(name: string, us: number): void {
  // Parents first when granting, children first when taking away.
  const files = rtBudgetFiles(name);
  for (const f of us > 0 ? files : [...files].reverse()) fs.writeFileSync(f, String(us));
}

if (requireContainers(t)) {
  let s: Scenario;
  const name = 'itest-sched';
  t.before(async () => {
    s = await startScenario(name, ['security.syscalls.intercept.sched_setscheduler=true']);
    // The first attach creates the .lxc child cgroup; then give both a real-time budget.
    s.container.attach(['true']);
    setRtBudget(name, 100000);
  });
  t.teardown(() => s?.teardown());

  const lines = (out: string): Record<string, unknown>[] =>
    out.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

  t.test('container root sets every policy on itself', async (t) => {
    t.match(s.probe(['sched', '0', String(SCHED_FIFO), '1']), { ret: 0 }, 'FIFO 1');
    t.match(s.probe(['sched', '0', String(SCHED_RR), '50']), { ret: 0 }, 'RR 50');
    t.match(s.probe(['sched', '0', String(SCHED_OTHER), '0']), { ret: 0 }, 'OTHER');
    t.match(s.probe(['sched', '0', String(SCHED_BATCH), '0']), { ret: 0 }, 'BATCH');
    t.match(s.probe(['sched', '0', String(SCHED_IDLE), '0']), { ret: 0 }, 'IDLE');
    const r = s.run(['sh', '-c', `/bin/probe sched $$ ${SCHED_FIFO} 7 && /bin/probe getsched $$`]);
    t.match(lines(r.stdout)[1], { policy: SCHED_FIFO, priority: 7 }, 'the kernel reports the new policy of the shell');
  });

  t.test('another process of the container, named by its container pid', async (t) => {
    const r = s.run([
      'sh',
      '-c',
      `sleep 30 & p=$!; /bin/probe sched $p ${SCHED_RR} 3; /bin/probe getsched $p; echo "{\\"pid\\":$p}"; kill $p`,
    ]);
    const [set, get, pid] = lines(r.stdout);
    t.match(set, { ret: 0 });
    t.match(get, { policy: SCHED_RR, priority: 3 });
    t.ok(Number(pid?.pid) > 0 && Number(pid?.pid) < 1000, 'a container pid, not a host pid');
  });

  t.test('a host pid is not reachable from the container', async (t) => {
    const before = fs.readFileSync(`/proc/${process.pid}/stat`, 'utf8').split(' ')[40];
    t.match(s.probe(['sched', String(process.pid), String(SCHED_FIFO), '1']), { err: 'ESRCH' });
    t.equal(fs.readFileSync(`/proc/${process.pid}/stat`, 'utf8').split(' ')[40], before, 'host process policy unchanged');
  });

  t.test('refusals carry the kernel errno', async (t) => {
    t.match(s.probe(['sched', '0', String(SCHED_FIFO), '100']), { err: 'EINVAL' }, 'priority out of range');
    t.match(s.probe(['sched', '0', String(SCHED_OTHER), '5']), { err: 'EINVAL' }, 'OTHER with a priority');
    t.match(s.probe(['sched', '-1', String(SCHED_FIFO), '1']), { err: 'EINVAL' }, 'negative pid');
    t.match(s.probe(['sched', '0', '42', '0']), { err: 'EINVAL' }, 'unknown policy');
    t.match(s.probe(['sched', '0', String(SCHED_FIFO), '1'], { uid: USER_ID, gid: USER_ID }), { err: 'EPERM' }, 'non-root caller');
  });

  t.test('without a real-time budget the kernel answer stands and the daemon says why', async (t) => {
    setRtBudget(name, 0);
    t.teardown(() => setRtBudget(name, 100000));
    t.match(s.probe(['sched', '0', String(SCHED_FIFO), '1']), { err: 'EPERM' });
    await new Promise((r) => setTimeout(r, 200));
    t.ok(s.daemon.logs.some((l) => String(l.msg).includes('no real-time budget')), 'warning logged');
  });
}
