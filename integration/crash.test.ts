// kill -9 of the daemon while a container makes intercepted calls: the keeper holds the
// sockets, the restarted daemon takes them back, and at most the one request that was
// in flight fails (with liblxc's failure answer, ENOSYS), at once rather than after 30 s.

import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { startDaemon, type DaemonHandle } from './lib/daemon.js';
import { requireContainers, startScenario, type Scenario, type ProbeResult } from './lib/scenario.js';

if (requireContainers(t)) {
  let s: Scenario;
  let next: DaemonHandle | undefined;
  t.before(async () => {
    s = await startScenario('itest-crash', ['security.syscalls.intercept.mknod=true']);
    s.container.attach(['mkdir', '-p', '/tmp/loop']);
  });
  t.teardown(async () => {
    await next?.stop();
    await s?.teardown();
  });

  t.test('kill -9 mid-loop, restart: at most the in-flight call fails, with ENOSYS', async (t) => {
    const old = s.daemon;
    const loop = s.container.attachAsync(['/bin/probe', 'bench-mknod', '/tmp/loop', '3000'], { timeoutMs: 120_000 });
    await new Promise((r) => setTimeout(r, 400));
    await old.kill('SIGKILL');
    // A supervisor (systemd's Restart=always) would restart it; here the test does.
    await new Promise((r) => setTimeout(r, 200));
    next = await startDaemon({ stateDir: old.stateDir, configDir: old.configDir });
    const r = await loop;
    const result = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as ProbeResult & { count: number; errors: number; max_us: number };
    t.equal(result.count, 3000);
    t.ok(result.errors <= 1, `at most one failed call (${r.stdout})`);
    if (result.errors === 1) t.equal(result.err, 'ENOSYS', "liblxc's failure answer");
    t.ok(result.max_us < 20_000_000, `no call waited for liblxc's 30 s timeout (worst ${Math.round(result.max_us / 1000)} ms)`);
    await new Promise((r) => setTimeout(r, 300));
    t.ok(next.logs.some((l) => l.msg === 'took over from the previous daemon' && l.from === 'keeper'), 'sockets recovered from the keeper');
    t.ok(next.logs.filter((l) => l.audit === true).length > 0, 'the new daemon served the rest of the loop');
    t.match(s.probe(['mknod', '/tmp/after', 'c', '1', '3']), { ret: 0 }, 'a new lxc-attach is served');
  });

  t.test('a deliberate stop takes the keeper down with it', async (t) => {
    const socket = path.join(next!.stateDir, 'keeper.socket');
    t.ok(fs.existsSync(socket), 'a keeper runs while the daemon does');
    await next!.stop();
    await new Promise((r) => setTimeout(r, 200));
    t.notOk(fs.existsSync(socket), 'the keeper exited and removed its socket');
    next = undefined;
  });
}

if (requireContainers(t)) {
  t.test('killed and never restarted: parked calls get ENOSYS after the keeper grace, not a hang', async (t) => {
    const s = await startScenario('itest-crash-alone', ['security.syscalls.intercept.mknod=true'], {
      daemonArgs: ['--keeper-grace-ms', '1000'],
    });
    t.teardown(() => s.teardown());
    t.match(s.probe(['mknod', '/tmp/before', 'c', '1', '3']), { ret: 0 });
    await s.daemon.kill('SIGKILL');
    // The keeper still holds the connection: this call waits in it until the grace ends.
    t.match(s.probe(['mknod', '/tmp/orphan', 'c', '1', '3']), { err: 'ENOSYS' }, "liblxc's failure answer");
    t.match(s.probe(['mknod', '/tmp/orphan2', 'c', '1', '3']), { err: 'ENOSYS' }, 'and the next, with nothing listening');
    // liblxc now has no proxy connection: it refuses new attach listeners until a notification
    // from an already attached process makes it reconnect (liblxc-proxy-protocol.md §3, §6).
    // That is why the keeper exists; without one, this is where every peer ends up.
  });
}
