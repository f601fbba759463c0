// What an operator runs against a live daemon serving a real container: status, reload
// (good and bad files), the Prometheus endpoint, and the audit log.

import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { cli, scrapeMetrics as scrape } from './lib/daemon.js';
import { requireContainers, startScenario, type Scenario } from './lib/scenario.js';

if (requireContainers(t)) {
  let s: Scenario;
  const name = 'itest-ops';
  const run = `/run/interceptd-test/${name}-ops`;
  const metricsSock = path.join(run, 'metrics.sock');
  const auditFile = path.join(run, 'audit.jsonl');
  t.before(async () => {
    fs.rmSync(run, { recursive: true, force: true });
    fs.mkdirSync(run, { recursive: true });
    s = await startScenario(name, ['security.syscalls.intercept.mknod=true'], {
      daemonArgs: ['--metrics-listen', `unix:${metricsSock}`, '--audit-log', auditFile],
    });
    t.match(s.probe(['mknod', '/tmp/null', 'c', '1', '3']), { ret: 0 });
    t.match(s.probe(['mknod', '/tmp/blk', 'b', '8', '0']), { err: 'EPERM' });
  });
  t.teardown(async () => {
    await s?.teardown();
    fs.rmSync(run, { recursive: true, force: true });
  });

  t.test('status shows the container, the requests and the helpers', async (t) => {
    const r = cli(['status', '--json', '--state-dir', s.daemon.stateDir]);
    t.equal(r.status, 0, r.stderr);
    const st = JSON.parse(r.stdout) as Record<string, any>;
    t.match(st.containers, [{ source: 'liblxc', name }]);
    t.ok(st.syscalls.mknod.emulated >= 1, 'an emulated mknod counted');
    t.ok(st.syscalls.mknod.continue >= 1, 'a declined mknod counted');
    t.ok(st.latencyUs.samples >= 2 && st.latencyUs.p50 > 0);
    t.ok(st.helpers.running >= 1);
    const text = cli(['status', '--state-dir', s.daemon.stateDir]);
    t.match(text.stdout, new RegExp(`${name}\\s+liblxc`));
    t.match(text.stdout, /mknod\s+\d+\s+\d+\s+\d+/);
  });

  t.test('the metrics endpoint', async (t) => {
    const m = await scrape(metricsSock);
    t.equal(m.status, 200);
    t.match(m.body, /interceptd_requests_total\{syscall="mknod",decision="emulated"\} [1-9]/);
    t.match(m.body, /interceptd_requests_total\{syscall="mknod",decision="continue"\} [1-9]/);
    t.match(m.body, /interceptd_request_duration_seconds_bucket\{le="0.005",syscall="mknod"\} \d/);
    t.match(m.body, /interceptd_connected_containers\{source="liblxc"\} 1/);
    t.match(m.body, /interceptd_helper_restarts_total 0/);
    t.equal((await scrape(metricsSock).then(() => 200)), 200);
  });

  t.test('the audit log has one line per privileged action', async (t) => {
    await new Promise((r) => setTimeout(r, 300));
    const lines = fs.readFileSync(auditFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const mknod = lines.find((l) => l.syscall === 'mknod');
    t.match(mknod, { audit: true, container: name, syscall: 'mknod', path: '/tmp/null', dev: '1:3', errno: 0, msg: 'mknod emulated' });
    t.ok(Number(mknod?.pid) > 0, 'the caller pid');
    t.ok(typeof mknod?.us === 'number', 'its duration');
    t.ok(Number(mknod?.elapsed_us) >= Number(mknod?.us), 'the time since the notification arrived, the helper round trip within it');
    t.notOk(s.daemon.logs.some((l) => l.audit === true), 'not in the main log when --audit-log is given');
  });

  t.test('reload: a bad policy file is refused and the old policy stays', async (t) => {
    const file = path.join(s.daemon.configDir, 'containers', `${name}.yaml`);
    const good = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, 'security.syscalls.intercept.mknod: maybe\n');
    const r = cli(['reload', '--state-dir', s.daemon.stateDir]);
    t.equal(r.status, 1, 'reload reports the refusal');
    t.match(r.stdout, /refused .*itest-ops\.yaml: .*mknod/);
    t.match(s.probe(['mknod', '/tmp/still', 'c', '1', '3']), { ret: 0 }, 'the previous policy stays');
    fs.writeFileSync(file, good);
    t.equal(cli(['reload', '--state-dir', s.daemon.stateDir]).status, 0);
  });

  t.test('reload: daemon settings apply, a bad settings file changes nothing', async (t) => {
    const settings = path.join(s.daemon.configDir, 'interceptd.yaml');
    fs.writeFileSync(settings, 'deadline-ms: 2500\n');
    t.equal(cli(['reload', '--state-dir', s.daemon.stateDir]).status, 0);
    const status = () => JSON.parse(cli(['status', '--json', '--state-dir', s.daemon.stateDir]).stdout) as { deadlineMs: number };
    t.equal(status().deadlineMs, 2500);
    fs.writeFileSync(settings, 'deadline-ms: 99999\nshiny: yes\n');
    const r = cli(['reload', '--state-dir', s.daemon.stateDir]);
    t.equal(r.status, 1);
    t.match(r.stdout, /settings refused: .*deadline-ms.*unknown setting "shiny"/);
    t.equal(status().deadlineMs, 2500, 'unchanged');
    fs.writeFileSync(settings, 'deadline-ms: 4000\n');
    s.daemon.child.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 300));
    t.equal(status().deadlineMs, 4000, 'SIGHUP reloads too');
    fs.rmSync(settings);
  });
}
