// The short soak CI runs: several real containers, a mix of intercepted calls, zero
// errors, and the daemon's open fds and memory flat. `npm run soak` runs the long one.

import t from 'tap';
import { requireContainers } from './lib/scenario.js';
import { soak } from './lib/soak.js';

if (requireContainers(t)) {
  t.test('10 containers, 20 s of mixed calls', async (t) => {
    const r = await soak({ containers: 10, seconds: 20, log: (l) => t.comment(l) });
    t.comment(`calls ${r.calls}, errors ${r.errors}; fds ${r.samples.map((s) => s.fds).join(' ')}; RSS KiB ${r.samples.map((s) => s.rssKiB).join(' ')}`);
    t.ok(r.calls > 1000, `calls served: ${r.calls}`);
    t.equal(r.errors, 0, 'no call failed');
    t.ok(r.daemonAlive, 'the daemon is still running');
    const first = r.samples[0]!;
    const last = r.samples[r.samples.length - 1]!;
    t.ok(last.fds <= first.fds + 4, `open fds flat (${first.fds} → ${last.fds})`);
    t.ok(last.rssKiB < first.rssKiB + 64 * 1024, `RSS bounded (${first.rssKiB} → ${last.rssKiB} KiB)`);
  });
}
