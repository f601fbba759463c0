// `npm run demo`: interceptd + a real unprivileged LXC container + a mknod that works,
// then everything cleaned up. Needs root and Debian's lxc, busybox-static, uidmap.

import { canRunContainers } from './lib/lxc.js';
import { BUNDLE } from './lib/daemon.js';
import { startScenario } from './lib/scenario.js';

function show(title: string, r: { stdout: string; stderr: string; status: number | null }): void {
  console.log(`\n$ ${title}`);
  process.stdout.write(r.stdout + r.stderr);
}

const can = canRunContainers();
if (!can.ok) {
  console.error(`demo needs a real container: ${can.reason}`);
  process.exit(1);
}

console.log('Starting interceptd and an unprivileged busybox container (idmap 0 100000 65536, no network)...');
const s = await startScenario('interceptd-demo', ['security.syscalls.intercept.mknod=true'], { cli: BUNDLE });
let failed = false;
try {
  const c = s.container;
  console.log(`container ${c.name}: init pid ${c.initPid()}, policy security.syscalls.intercept.mknod=true`);
  show('mknod /tmp/null c 1 3 && ls -l /tmp/null', c.attach(['sh', '-c', 'mknod /tmp/null c 1 3 && ls -ln /tmp/null']));
  show("echo hello > /tmp/null && echo 'write ok'", c.attach(['sh', '-c', "echo hello > /tmp/null && echo 'write ok'"]));
  show('mknod /dev/zero2 c 1 5 && head -c 4 /dev/zero2 | od -An -tx1', c.attach(['sh', '-c', 'mknod /dev/zero2 c 1 5 && head -c 4 /dev/zero2 | od -An -tx1']));
  show('mknod /tmp/sda b 8 0   # block devices stay refused', c.attach(['sh', '-c', 'mknod /tmp/sda b 8 0; echo "exit $?"']));
  await new Promise((r) => setTimeout(r, 200)); // let the daemon's log lines arrive
  const audit = s.daemon.logs.filter((l) => l.audit === true);
  console.log(`\ninterceptd audit log (${audit.length} privileged actions):`);
  for (const l of audit) console.log(`  ${l.msg}: ${l.path} dev ${l.dev} mode ${l.mode} errno ${l.errno} (${Math.round(Number(l.us))} µs)`);
  failed = c.attach(['test', '-c', '/tmp/null']).status !== 0 || audit.length < 2;
} catch (err) {
  failed = true;
  console.error(err);
} finally {
  await s.teardown();
  console.log('\ncontainer destroyed, daemon stopped');
}
process.exit(failed ? 1 : 0);
