// Buffers whose addresses go into structs for the kernel (msghdr → iovec → control)
// must outlive the syscall. A local one that is not used after its address is taken
// can be freed by the GC first: under GC pressure sendmsg then failed with EFAULT,
// EINVAL or EMSGSIZE, or sent a mangled datagram (a few in 200,000 before the fix).

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'send-under-gc.ts');

t.test('sendmsg with fds stays correct while the GC runs all the time', async (t) => {
  const r = spawnSync(process.execPath, [...process.execArgv, '--max-semi-space-size=1', fixture, '200000'], { encoding: 'utf8', timeout: 120_000 });
  t.equal(r.status, 0, r.stderr);
  const last = r.stdout.trim().split('\n').at(-1) ?? '{}';
  t.same(JSON.parse(last), { failures: 0 }, '200,000 datagrams with 3 fds each, none lost or mangled');
});
