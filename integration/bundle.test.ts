// The one-file bundle that `bin` names (dist/interceptd.js) serves a real container as
// the tsc output does: the other tests run the latter, whose coverage maps to the sources.
// What bundling could break is checked here: the helper and keeper found from the bundle's
// place, and the modules it loads only on demand (the metrics endpoint, msgpack).

import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { BUNDLE, cli, scrapeMetrics } from './lib/daemon.js';
import { requireContainers, startScenario, type Scenario } from './lib/scenario.js';

if (requireContainers(t)) {
  let s: Scenario;
  const name = 'itest-bundle';
  const run = `/run/interceptd-test/${name}-run`;
  const metricsSock = path.join(run, 'metrics.sock');
  t.before(async () => {
    fs.rmSync(run, { recursive: true, force: true });
    fs.mkdirSync(run, { recursive: true });
    s = await startScenario(name, ['security.syscalls.intercept.mknod=true'], {
      cli: BUNDLE,
      daemonArgs: ['--metrics-listen', `unix:${metricsSock}`],
    });
  });
  t.teardown(async () => {
    await s?.teardown();
    fs.rmSync(run, { recursive: true, force: true });
  });

  t.test('the daemon is the bundle', async (t) => {
    const argv = fs.readFileSync(`/proc/${s.daemon.child.pid}/cmdline`, 'utf8').split('\0');
    t.ok(argv.includes(BUNDLE), argv.join(' '));
  });

  t.test('it emulates an allowed mknod and declines another', async (t) => {
    t.match(s.probe(['mknod', '/tmp/null', 'c', '1', '3']), { ret: 0 }, 'c 1:3 made by the helper');
    t.match(s.probe(['stat', '/tmp/null']), { type: 'c', major: 1, minor: 3 });
    t.match(s.probe(['mknod', '/tmp/blk', 'b', '8', '0']), { err: 'EPERM' }, 'a block device: CONTINUE, the kernel refuses');
  });

  t.test('status over the control socket and the metrics endpoint', async (t) => {
    const r = cli(['status', '--json', '--state-dir', s.daemon.stateDir]);
    t.equal(r.status, 0, r.stderr);
    const st = JSON.parse(r.stdout) as { syscalls: Record<string, { emulated: number; continue: number }> };
    t.ok(st.syscalls.mknod!.emulated >= 1 && st.syscalls.mknod!.continue >= 1, JSON.stringify(st.syscalls.mknod));
    const m = await scrapeMetrics(metricsSock);
    t.equal(m.status, 200);
    t.match(m.body, /interceptd_requests_total\{syscall="mknod",decision="emulated"\} [1-9]/);
  });
}
