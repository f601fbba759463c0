// Upgrade without a failed call: a new daemon takes over the running one's sockets
// and connections while a container makes intercepted calls in a loop.

import t from 'tap';
import { startDaemon, type DaemonHandle } from './lib/daemon.js';
import { requireContainers, startScenario, type Scenario, type ProbeResult } from './lib/scenario.js';

if (requireContainers(t)) {
  let s: Scenario;
  let next: DaemonHandle | undefined;
  t.before(async () => {
    s = await startScenario('itest-takeover', ['security.syscalls.intercept.mknod=true']);
    s.container.attach(['mkdir', '-p', '/tmp/loop']);
  });
  t.teardown(async () => {
    await next?.stop();
    await s?.teardown();
  });

  t.test('serve --takeover while calls run: zero errors, the old daemon exits', async (t) => {
    const old = s.daemon;
    const loop = s.container.attachAsync(['/bin/probe', 'bench-mknod', '/tmp/loop', '3000'], { timeoutMs: 120_000 });
    await new Promise((r) => setTimeout(r, 400));
    next = await startDaemon({ stateDir: old.stateDir, configDir: old.configDir, args: ['--takeover'] });
    const exit = await new Promise<number | null>((resolve) => {
      if (old.child.exitCode !== null) resolve(old.child.exitCode);
      else old.child.on('exit', (code) => resolve(code));
    });
    t.equal(exit, 0, 'the old daemon exited cleanly after handing over');
    const r = await loop;
    const result = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as ProbeResult & { count: number; errors: number };
    t.equal(result.count, 3000);
    t.equal(result.errors, 0, `no call failed across the takeover (${r.stdout}${r.stderr})`);
    await new Promise((r) => setTimeout(r, 300));
    const byOld = old.logs.filter((l) => l.audit === true).length;
    const byNew = next.logs.filter((l) => l.audit === true).length;
    t.ok(byOld > 0 && byNew > 0, `both daemons served calls (old ${byOld}, new ${byNew})`);
    t.ok(next.logs.some((l) => l.msg === 'took over from the previous daemon' && l.from === 'takeover'), 'the new daemon adopted the sockets');
    // A fresh lxc-attach after the takeover is served too: its listener arrives on the adopted connection.
    t.match(s.probe(['mknod', '/tmp/after', 'c', '1', '3']), { ret: 0 });
  });
}
