// Device-cgroup BPF programs from inside a real unprivileged LXC container: load,
// attach to the container's own cgroup, a blocked device really fails to open, detach.

import t from 'tap';
import { requireContainers, startScenario, type Scenario, type ProbeResult } from './lib/scenario.js';

if (requireContainers(t)) {
  let s: Scenario;
  t.before(async () => {
    s = await startScenario('itest-bpf', ['security.syscalls.intercept.bpf=true', 'security.syscalls.intercept.bpf.devices=true']);
    // LXC mounts no cgroup hierarchy inside on this host: container root mounts its own cgroup2.
    // Through run(), which runs it again after liblxc's attach flake: so it must be idempotent.
    const m = s.run(['sh', '-c', 'mkdir -p /tmp/cg && { grep -q " /tmp/cg cgroup2 " /proc/mounts || mount -t cgroup2 none /tmp/cg; }']);
    if (m.status !== 0) throw new Error(`cannot mount cgroup2 in the container (status ${m.status}): ${m.stdout}${m.stderr}`);
  });
  t.teardown(() => s?.teardown());

  const steps = (args: string[]): Map<string, ProbeResult> => {
    const r = s.run(['/bin/probe', ...args]);
    return new Map(
      r.stdout
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as ProbeResult)
        .map((p) => [p.op, p]),
    );
  };

  for (const size of [144, 120, 72]) {
    t.test(`runc's device setup works with a ${size}-byte bpf_attr`, async (t) => {
      const r = steps(['bpfdev', '/tmp/cg', '1', '5', '/dev/zero', String(size)]);
      t.match(r.get('bpf-load'), { err: '', cloexec: true }, 'program fd returned, close-on-exec like bpf()');
      t.ok(Number(r.get('bpf-load')?.ret) >= 3, 'a real fd number');
      t.match(r.get('bpf-attach'), { ret: 0 });
      t.match(r.get('open-while-attached'), { err: 'EPERM' }, 'the program denies /dev/zero');
      t.match(r.get('open-other-device'), { ret: 0 }, '/dev/null still opens');
      t.match(r.get('bpf-detach'), { ret: 0 });
      t.match(r.get('open-after-detach'), { ret: 0 }, 'detached: /dev/zero opens again');
    });
  }

  t.test('the verifier log comes back to the caller', async (t) => {
    const r = steps(['bpfbad']).get('bpf-verifier');
    t.equal(r?.ret, -1);
    t.not(r?.err, 'EPERM', 'the verifier error, not a blanket EPERM');
    t.ok(Number(r?.log_len) > 0, 'log written into the caller buffer');
  });

  t.test('a target that is not a cgroup gets the kernel answer', async (t) => {
    const before = s.daemon.logs.length;
    // The kernel looks the cgroup fd up before anything else: EBADF for a plain directory.
    t.match(steps(['bpf-nondir', '/tmp']).get('bpf-attach-nondir'), { ret: -1, err: 'EBADF' });
    await new Promise((r) => setTimeout(r, 200));
    t.ok(
      s.daemon.logs.slice(before).some((l) => l.msg === 'declined' && String(l.reason).includes('cgroup2 subtree')),
      'declined by interceptd (CONTINUE), so the errno is the kernel one',
    );
  });

  t.test('with bpf.devices off, loading is the kernel answer (EPERM)', async (t) => {
    s.setPolicy(['security.syscalls.intercept.bpf.devices=false']);
    await new Promise((r) => setTimeout(r, 300));
    t.match(steps(['bpfdev', '/tmp/cg', '1', '5', '/dev/zero']).get('bpf-load'), { err: 'EPERM' });
    s.setPolicy(['security.syscalls.intercept.bpf.devices=true']);
    await new Promise((r) => setTimeout(r, 300));
  });
}
