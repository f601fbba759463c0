// Proves the container harness on a real unprivileged LXC container, with no
// seccomp or interceptd involved: what the kernel alone allows and refuses.
import t from 'tap';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildProbe, buildProbe32, canRunContainers, createContainer, DEFAULT_LXCPATH,
  HOST_ROOT_ID, TEST_ROOT, USER_ID, type AttachResult,
} from './lxc.js';

interface ProbeLine {
  op: string;
  ret: number;
  errno: number;
  err: string;
  [key: string]: unknown;
}

function probeJson(r: AttachResult): ProbeLine {
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as ProbeLine;
  } catch {
    throw new Error(`probe printed no JSON (status ${r.status}): ${r.stdout}${r.stderr}`);
  }
}

const can = canRunContainers();
if (!can.ok) {
  if (process.env.CI) {
    t.fail(`cannot run containers: ${can.reason}`);
  } else {
    t.comment(`skipping container tests: ${can.reason}`);
    t.skip(`real containers: ${can.reason}`, () => {});
  }
} else {
  const c = createContainer({ name: 'itest-harness', lxcpath: DEFAULT_LXCPATH });
  t.teardown(() => c.destroy());

  t.test('container starts and attach works', async (t) => {
    c.start();
    t.ok(c.running(), 'RUNNING');
    t.ok(c.initPid() > 1, 'has an init pid on the host');

    const root = c.attach(['id', '-u']);
    t.equal(root.status, 0, root.stderr);
    t.equal(root.stdout.trim(), '0', 'attached as container root');

    const user = c.attach(['id', '-u'], { uid: USER_ID, gid: USER_ID });
    t.equal(user.stdout.trim(), String(USER_ID), 'attached as user');

    const env = c.attach(['sh', '-c', 'pwd; echo "$FOO:$PATH"; cat'], {
      cwd: '/tmp', env: { FOO: 'bar' }, input: 'from-stdin',
    });
    t.same(env.stdout.split('\n'), ['/tmp', 'bar:/bin:/sbin:/usr/bin:/usr/sbin', 'from-stdin'],
      'cwd, env and input reach the command');

    const exit = c.attach(['sh', '-c', 'exit 7']);
    t.equal(exit.status, 7, 'exit status is passed through');

    const [a, b] = await Promise.all([c.attachAsync(['echo', 'one']), c.attachAsync(['cat'], { input: 'two' })]);
    t.equal(a.stdout.trim(), 'one');
    t.equal(b.stdout, 'two', 'attachAsync with input');

    const slow = c.attach(['sleep', '30'], { timeoutMs: 500 });
    t.equal(slow.status, null, 'a command past its timeout is killed');
    const slowAsync = await c.attachAsync(['sleep', '30'], { timeoutMs: 500 });
    t.not(slowAsync.status, 0, 'attachAsync past its timeout is killed');
    t.notMatch(c.attach(['ps']).stdout, /sleep 30/, 'no timed-out command is left running');

    t.match(c.logTail(), /lxc-start/, 'log file is written');
  });

  t.test('probe runs inside the container', async (t) => {
    const binDir = join(TEST_ROOT, 'bin');
    c.copyIn(buildProbe(binDir), '/bin/probe');
    c.copyIn(buildProbe32(binDir), '/bin/probe32');

    for (const probe of ['probe', 'probe32']) {
      const fifo = probeJson(c.attach([probe, 'mknod', `/tmp/x-${probe}`, 'p', '0', '0']));
      t.match(fifo, { op: 'mknod', ret: 0, errno: 0, err: '' }, `${probe}: mknod fifo succeeds`);

      const st = probeJson(c.attach([probe, 'stat', `/tmp/x-${probe}`]));
      t.match(st, { op: 'stat', ret: 0, type: 'p', mode: '0644', uid: 0, gid: 0 }, `${probe}: stat fifo`);
      t.equal(statSync(c.hostPath(`/tmp/x-${probe}`)).uid, HOST_ROOT_ID, 'host sees the fifo owned by uid 100000');

      const chr = probeJson(c.attach([probe, 'mknod', `/tmp/y-${probe}`, 'c', '1', '3']));
      t.match(chr, { op: 'mknod', ret: -1, errno: 1, err: 'EPERM' }, `${probe}: mknod c 1 3 is refused`);

      const devnull = probeJson(c.attach([probe, 'stat', '/dev/null']));
      t.match(devnull, { type: 'c', major: 1, minor: 3 }, `${probe}: stat /dev/null`);
    }

    const at = probeJson(c.attach(['probe', 'umask', '0', 'mknodat', '/tmp', 'z', 'p', '0', '0', '0640']));
    t.match(at, { op: 'mknodat', ret: 0 }, 'mknodat with a real dirfd');
    t.match(probeJson(c.attach(['probe', 'stat', '/tmp/z'])), { mode: '0640' }, 'mode as given with umask 0');

    const th = probeJson(c.attach(['probe', 'thread', 'mknod', '/tmp/t', 'b', '8', '0']));
    t.match(th, { op: 'mknod', thread: true, err: 'EPERM' }, 'thread op reports from the second thread');

    t.match(probeJson(c.attach(['probe', 'writedev', '/dev/null'])), { op: 'writedev', ret: 5 });
    t.match(probeJson(c.attach(['probe', 'badptr'])), { err: 'EFAULT' });
    t.match(probeJson(c.attach(['probe', 'longpath'])), { err: 'ENAMETOOLONG' });

    const bench = probeJson(c.attach(['probe', 'bench-getppid', '1000']));
    t.match(bench, { op: 'bench-getppid', count: 1000, errors: 0 });
    t.ok((bench.median_us as number) > 0, 'bench reports a median');
  });

  t.test('stop and destroy', async (t) => {
    c.stop();
    t.notOk(c.running(), 'stopped');
    c.stop();
    t.pass('stopping a stopped container is fine');
    c.destroy();
    t.notOk(existsSync(c.dir), 'container directory removed');
  });
}
