// Hostile behaviour from inside a real container: one container flooding the daemon.

import t from 'tap';
import { requireContainers, startScenario, type Scenario } from './lib/scenario.js';

const I = 'security.syscalls.intercept.';

if (requireContainers(t)) {
  let s: Scenario;
  t.before(async () => {
    s = await startScenario('itest-hostile', [`${I}mknod=true`]);
    s.container.attach(['mkdir', '-p', '/tmp/flood']);
  });
  t.teardown(() => s?.teardown());

  t.test('one container floods the daemon: every call answered, nothing else harmed', async (t) => {
    const runs = await Promise.all(
      Array.from({ length: 8 }, () => s.container.attachAsync(['/bin/probe', 'bench-mknod-denied', '/tmp/flood', '2000'], { timeoutMs: 120_000 })),
    );
    let answered = 0;
    for (const r of runs) {
      const res = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { count: number; errors: number; err: string };
      // Every call is declined: the kernel's EPERM. A lost or late answer would show as ENOSYS.
      if (res.err === 'ENOSYS' && r.status === 1) continue; // lxc-attach without a listener (liblxc, see soak)
      t.equal(res.errors, res.count, 'every call answered');
      t.equal(res.err, 'EPERM', "the kernel's own answer");
      answered += res.count;
    }
    t.ok(answered >= 6 * 2000, `calls answered: ${answered}`);
    t.match(s.probe(['mknod', '/tmp/after-flood', 'c', '1', '3']), { ret: 0 }, 'emulation still works');
    t.equal(s.daemon.child.exitCode, null, 'the daemon is still running');
  });
}
