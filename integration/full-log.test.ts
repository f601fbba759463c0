// A log that cannot be written must not cost a syscall its answer: with the audit log
// on a device that is always full (/dev/full, ENOSPC on every write), a real container's
// mknod calls are still served, the daemon says so on stderr, and it stops promptly.

import t from 'tap';
import { requireContainers, startScenario, type Scenario } from './lib/scenario.js';

if (requireContainers(t)) {
  let s: Scenario;
  t.before(async () => {
    s = await startScenario('itest-fulllog', ['security.syscalls.intercept.mknod=true'], { daemonArgs: ['--audit-log', '/dev/full'] });
  });
  t.teardown(async () => s?.teardown());

  t.test('served while every audit write fails, reported, and a prompt stop', async (t) => {
    for (let i = 0; i < 20; i++) t.match(s.probe(['mknod', `/tmp/full-${i}`, 'c', '1', '3']), { ret: 0 }, `mknod ${i}`);
    await new Promise((r) => setTimeout(r, 300));
    t.equal(s.daemon.child.exitCode, null, 'the daemon is alive');
    t.match(s.daemon.stderr, /log \/dev\/full cannot be written \(ENOSPC\)/, 'reported on stderr');
    t.match(s.probe(['mknod', '/tmp/full-last', 'c', '1', '3']), { ret: 0 }, 'still serving');
    const started = Date.now();
    await s.daemon.stop();
    t.ok(Date.now() - started < 5000, `stopped in ${Date.now() - started} ms: the exit flush gives up instead of retrying`);
  });
}
