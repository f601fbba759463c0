// The short soak CI runs: several real containers, a mix of intercepted calls, zero
// errors, and the daemon's open fds and memory flat. `npm run soak` runs the long one.

import t from 'tap';
import { requireContainers } from './lib/scenario.js';
import { soak } from './lib/soak.js';

if (requireContainers(t)) {
  t.test('10 containers, 45 s of mixed calls', async (t) => {
    const r = await soak({ containers: 10, seconds: 45, log: (l) => t.comment(l) });
    t.comment(`calls ${r.calls}, errors ${r.errors}, lxc-attach sessions ${r.rounds} (${r.unregistered} without a listener)`);
    t.comment(`fds ${r.samples.map((s) => s.fds).join(' ')}; RSS KiB ${r.samples.map((s) => s.rssKiB).join(' ')}; heap KiB ${r.samples.map((s) => s.heapKiB).join(' ')}`);
    t.ok(r.calls > 1000, `calls served: ${r.calls}`);
    t.same(r.errorKinds, {}, 'no call that reached the daemon failed');
    // Known and not yet explained (see the README): an lxc-attach whose listener never
    // reaches the liblxc monitor. Bounded here so a rise is noticed.
    t.ok(r.unregistered * 20 < r.rounds, `lxc-attach without a listener in under 5% of sessions (${r.unregistered}/${r.rounds})`);
    t.ok(r.daemonAlive, 'the daemon is still running');
    // Flat means the second half grows no further than the first: the sysinfo handler keeps
    // up to 512 cgroup files open by design, and V8's heap breathes between collections.
    const half = Math.floor(r.samples.length / 2);
    const max = (xs: number[]): number => Math.max(...xs);
    const fds = r.samples.map((x) => x.fds);
    const rss = r.samples.map((x) => x.rssKiB);
    t.ok(max(fds.slice(half)) <= max(fds.slice(1, half)) + 16, `open fds flat (first half max ${max(fds.slice(1, half))}, second ${max(fds.slice(half))})`);
    t.ok(max(rss.slice(half)) <= max(rss.slice(1, half)) * 1.25, `RSS flat (first half max ${max(rss.slice(1, half))} KiB, second ${max(rss.slice(half))})`);
  });
}
