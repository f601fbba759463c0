// A privileged action that hangs (a FUSE program that never finishes mounting) is
// answered at the deadline, the stuck helper is killed, and nobody else waits.

import fs from 'node:fs';
import t from 'tap';
import { requireContainers, startScenario, type Scenario } from './lib/scenario.js';

const I = 'security.syscalls.intercept.';

if (requireContainers(t)) {
  let s: Scenario;
  t.before(async () => {
    // A "FUSE program" that never finishes mounting: the helper waits for it.
    s = await startScenario('itest-deadline', [`${I}mount=true`, `${I}mount.fuse=ext4=hang-fuse`, `${I}mknod=true`], {
      daemonArgs: ['--deadline-ms', '1500'],
    });
    fs.writeFileSync(s.container.hostPath('/bin/hang-fuse'), '#!/bin/sh\nexec /bin/probe pause\n', { mode: 0o755 });
    fs.chownSync(s.container.hostPath('/bin/hang-fuse'), 100000, 100000);
  });
  t.teardown(() => s?.teardown());

  t.test('a helper stuck in a hung action: answered at the deadline, others served meanwhile', async (t) => {
    s.container.attach(['mkdir', '-p', '/mnt/h']);
    let stuckDone = false;
    const stuck = s.container
      .attachAsync(['/bin/probe', 'mount', 'none', '/mnt/h', 'ext4'], { timeoutMs: 60_000 })
      .finally(() => (stuckDone = true));
    // Give the hung program time to start, so a helper is busy with it.
    await new Promise((r) => setTimeout(r, 500));
    t.match(s.probe(['mknod', '/tmp/meanwhile', 'c', '1', '3']), { ret: 0 }, 'served by another helper meanwhile');
    t.equal(stuckDone, false, 'the hung call is still waiting');
    const r = await stuck;
    t.match(r.stdout, /"op":"mount"/, `the caller got an answer: ${r.stdout}${r.stderr}`);
    t.match(r.stdout, /"err":"EPERM"/, 'CONTINUE at the deadline: the kernel refused the ext4 mount');
    // The helper call's own timeout ends just before the request deadline: either is the deadline answer.
    t.ok(
      s.daemon.logs.some((l) => l.msg === 'deadline reached; answering continue' || (l.msg === 'handler failed; answering continue' && JSON.stringify(l.err).includes('ICD_HELPER_TIMEOUT'))),
      'answered CONTINUE at the deadline',
    );
    t.ok(s.daemon.logs.some((l) => String(l.msg).includes('killing the helper')), 'stuck helper killed');
    t.match(s.probe(['mknod', '/tmp/after', 'c', '1', '5']), { ret: 0 }, 'the next request is served');
  });
}
