// `npm run soak [-- --containers N --seconds S]`: the long soak (default 50 containers,
// 10 minutes). Prints calls served, errors, and the daemon's fds and RSS over time.

import { parseArgs } from 'node:util';
import { canRunContainers } from './lib/lxc.js';
import { soak } from './lib/soak.js';

const { values } = parseArgs({ options: { containers: { type: 'string', default: '50' }, seconds: { type: 'string', default: '600' } } });
const can = canRunContainers();
if (!can.ok) {
  console.error(`soak needs real containers: ${can.reason}`);
  process.exit(1);
}
const r = await soak({ containers: Number(values.containers), seconds: Number(values.seconds), log: (l) => console.log(l) });
console.log(`calls ${r.calls}  errors ${r.errors} ${JSON.stringify(r.errorKinds)}  lxc-attach sessions ${r.rounds} (${r.unregistered} without a listener)  daemon alive ${r.daemonAlive}`);
for (const w of r.warnings.slice(0, 20)) console.log(`daemon: ${w.slice(0, 400)}`);
console.log('t(s)   fds   RSS(KiB)  heap(KiB)');
for (const s of r.samples) console.log(`${String(s.t).padStart(4)} ${String(s.fds).padStart(5)} ${String(s.rssKiB).padStart(10)} ${String(s.heapKiB).padStart(10)}`);
process.exit(r.errors === 0 && r.daemonAlive && r.unregistered * 20 < r.rounds ? 0 : 1);
