// LXD's policy source against a fake LXD on a unix socket (HTTP + the events
// websocket). The real LXD 5.0.2 is exercised by integration/lxd-diff.test.ts.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import t, { type Test } from 'tap';
import { WebSocketServer, type WebSocket } from 'ws';
import { CONTINUE, OK, type Answer } from '../protocol/answer.js';
import { EMPTY_POLICY, type Policy } from '../compat/keys.js';
import type { PolicySource } from '../compat/policy-source.js';
import { LxdClient } from '../compat/lxd/client.js';
import { LxdPolicySource, eventTarget, lxcName, policyFromConfig, splitLxcName } from '../compat/lxd/source.js';
import { silentLogger } from '../src/core/log.js';
import { Dispatcher } from '../src/dispatch.js';
import { defaultRegistry } from '../src/handlers/registry.js';
import type { Request, Services } from '../src/handlers/types.js';

const I = 'security.syscalls.intercept.';

class FakeLxd {
  readonly instances = new Map<string, { project: string; type: string; config: Record<string, string> }>();
  readonly gets: string[] = [];
  private readonly server: http.Server;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly clients = new Set<WebSocket>();

  constructor(readonly socketPath: string) {
    this.server = http.createServer((req, res) => {
      this.gets.push(req.url ?? '');
      const u = new URL(req.url ?? '/', 'http://lxd');
      const m = /^\/1\.0\/instances\/([^/]+)$/.exec(u.pathname);
      const project = u.searchParams.get('project') ?? 'default';
      const inst = m !== null ? this.instances.get(`${project}/${decodeURIComponent(m[1]!)}`) : undefined;
      res.setHeader('content-type', 'application/json');
      if (m === null || inst === undefined) {
        res.statusCode = 404;
        res.end(JSON.stringify({ type: 'error', error: 'Instance not found', error_code: 404 }));
        return;
      }
      res.end(
        JSON.stringify({
          type: 'sync',
          status_code: 200,
          metadata: { name: m[1], project, type: inst.type, status: 'Running', expanded_config: { 'limits.memory': '256MiB', ...inst.config } },
        }),
      );
    });
    this.server.on('upgrade', (req, socket, head) => {
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.clients.add(ws);
        ws.on('close', () => this.clients.delete(ws));
      });
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.server.listen(this.socketPath, resolve));
  }

  set(project: string, name: string, config: Record<string, string>, type = 'container'): void {
    this.instances.set(`${project}/${name}`, { project, type, config });
  }

  event(action: string, source: string, project = 'default'): void {
    const e = JSON.stringify({ type: 'lifecycle', project, metadata: { action, source, context: {} } });
    for (const c of this.clients) c.send(e);
  }

  get streams(): number {
    return this.clients.size;
  }

  dropStreams(): void {
    for (const c of this.clients) c.terminate();
  }

  close(): Promise<void> {
    this.dropStreams();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function eventually(cond: () => boolean, ms = 3000): Promise<boolean> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

const fallbackPolicy: Policy = { ...EMPTY_POLICY, sysinfo: true };
const fallback: PolicySource = { lookup: () => fallbackPolicy, close: () => {} };

async function setup(t: Test, opts: { start?: boolean } = {}) {
  const dir = fs.mkdtempSync('/tmp/icd-lxd-');
  const socketPath = path.join(dir, 'unix.socket');
  const lxd = new FakeLxd(socketPath);
  if (opts.start !== false) await lxd.listen();
  const source = new LxdPolicySource(new LxdClient(socketPath, 500), fallback, silentLogger());
  t.teardown(async () => {
    source.close();
    await lxd.close().catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { lxd, source, lxcPath: path.join(dir, 'containers') };
}

t.test('names: LXD project prefix and event sources', async (t) => {
  t.same(splitLxcName('c1'), { project: 'default', instance: 'c1' });
  t.same(splitLxcName('p1_c1'), { project: 'p1', instance: 'c1' });
  t.same(splitLxcName('p_1_c'), { project: 'p', instance: '1_c' }, 'split once, at the first _');
  t.equal(lxcName('default', 'c1'), 'c1');
  t.equal(lxcName('p1', 'c1'), 'p1_c1');
  t.equal(eventTarget({ action: 'instance-updated', source: '/1.0/instances/c1', project: 'default' }), 'c1');
  t.equal(eventTarget({ action: 'instance-updated', source: '/1.0/instances/c1?project=p1', project: 'default' }), 'p1_c1');
  t.equal(eventTarget({ action: 'instance-updated', source: '/1.0/instances/c1', project: 'p2' }), 'p2_c1');
  t.equal(eventTarget({ action: 'profile-updated', source: '/1.0/profiles/default', project: 'default' }), undefined);
  t.equal(eventTarget({ action: 'instance-updated', source: '/1.0/instances/c1/logs/x', project: 'default' }), undefined);
});

t.test('policyFromConfig keeps the interception keys and ignores the rest of LXD config', async (t) => {
  const p = policyFromConfig({
    [`${I}mknod`]: 'true',
    [`${I}mount.allowed`]: 'ext4,xfs',
    'security.syscalls.deny_compat': 'true',
    'raw.lxc': 'lxc.cap.drop = sys_resource',
    'volatile.idmap.current': '[]',
  });
  t.ok(p.ok);
  if (p.ok) {
    t.equal(p.policy.mknod, true);
    t.same(p.policy.mountAllowed, ['ext4', 'xfs']);
    t.equal(p.policy.setxattr, false);
  }
});

t.test('an LXD container: fetched once, then served from the cache', async (t) => {
  const { lxd, source, lxcPath } = await setup(t);
  lxd.set('default', 'c1', { [`${I}mknod`]: 'true' });
  lxd.set('p1', 'c2', { [`${I}setxattr`]: 'yes' });
  const first = source.lookup('c1', lxcPath);
  t.ok(first instanceof Promise, 'the first lookup waits for LXD');
  t.equal((await first).mknod, true);
  t.equal((source.lookup('c1', lxcPath) as Policy).mknod, true, 'then synchronous');
  t.equal((await source.lookup('p1_c2', lxcPath)).setxattr, true, 'a project container');
  t.same(lxd.gets, ['/1.0/instances/c1?project=default', '/1.0/instances/c2?project=p1']);
  t.equal(source.lookup('c1', '/var/lib/lxc'), fallbackPolicy, 'a plain LXC container of the same name is not LXD’s');
  t.equal(source.lookup('c1'), fallbackPolicy, 'nor is a container named by a cookie');
  t.same(source.describe().containers, 1 + 1);
});

t.test('per-call keys follow config changes; switches wait for a restart, as in LXD', async (t) => {
  const { lxd, source, lxcPath } = await setup(t);
  t.ok(await eventually(() => lxd.streams === 1), 'the event stream is up');
  lxd.set('default', 'c1', { [`${I}mount`]: 'true', [`${I}mount.allowed`]: 'ext4', [`${I}mknod`]: 'true' });
  t.same((await source.lookup('c1', lxcPath)).mountAllowed, ['ext4']);
  lxd.set('default', 'c1', { [`${I}mount`]: 'true', [`${I}mount.allowed`]: '', [`${I}mknod`]: 'false', [`${I}bpf.devices`]: 'true' });
  lxd.event('instance-updated', '/1.0/instances/c1');
  t.ok(await eventually(() => (source.lookup('c1', lxcPath) as Policy).mountAllowed.length === 0), 'mount.allowed follows at once');
  const p = source.lookup('c1', lxcPath) as Policy;
  t.equal(p.bpfDevices, true, 'bpf.devices follows');
  t.equal(p.mknod, true, 'the mknod switch keeps its value from the start (the filter has it)');
  lxd.event('instance-restarted', '/1.0/instances/c1');
  t.ok(
    await eventually(() => {
      const now = source.lookup('c1', lxcPath);
      return !(now instanceof Promise) && !now.mknod;
    }),
    'after a restart the new switch applies',
  );
});

t.test('a profile change re-reads every known container', async (t) => {
  const { lxd, source, lxcPath } = await setup(t);
  t.ok(await eventually(() => lxd.streams === 1));
  lxd.set('default', 'c1', { [`${I}mount.shift`]: 'false' });
  await source.lookup('c1', lxcPath);
  lxd.set('default', 'c1', { [`${I}mount.shift`]: 'true' });
  lxd.event('profile-updated', '/1.0/profiles/default');
  t.ok(await eventually(() => (source.lookup('c1', lxcPath) as Policy).mountShift));
});

t.test('a name LXD does not know, or a VM, goes to the fallback, and is asked once', async (t) => {
  const { lxd, source, lxcPath } = await setup(t);
  lxd.set('default', 'vm1', {}, 'virtual-machine');
  t.equal(await source.lookup('ghost', lxcPath), fallbackPolicy);
  t.equal(source.lookup('ghost', lxcPath), fallbackPolicy, 'cached');
  t.equal(await source.lookup('vm1', lxcPath), fallbackPolicy);
  t.equal(lxd.gets.length, 2);
});

t.test('LXD down: no interception, no error; served once LXD is back', async (t) => {
  const { lxd, source, lxcPath } = await setup(t, { start: false });
  lxd.set('default', 'c1', { [`${I}mknod`]: 'true' });
  t.equal(await source.lookup('c1', lxcPath), EMPTY_POLICY, 'unreachable: the kernel decides');
  t.equal(source.lookup('c1', lxcPath), EMPTY_POLICY, 'and it does not ask again at once');
  await lxd.listen();
  t.ok(
    await eventually(() => {
      const p = source.lookup('c1', lxcPath);
      return !(p instanceof Promise) && p.mknod;
    }, 5000),
    'read once LXD answers',
  );
});

t.test('a lost event stream reconnects and re-reads what it may have missed', async (t) => {
  const { lxd, source, lxcPath } = await setup(t);
  t.ok(await eventually(() => lxd.streams === 1));
  lxd.set('default', 'c1', { [`${I}mount.allowed`]: 'ext4' });
  await source.lookup('c1', lxcPath);
  lxd.dropStreams();
  t.ok(await eventually(() => !source.describe().following));
  lxd.set('default', 'c1', { [`${I}mount.allowed`]: 'xfs' });
  t.ok(await eventually(() => lxd.streams === 1, 5000), 'reconnected');
  t.ok(await eventually(() => (source.lookup('c1', lxcPath) as Policy).mountAllowed[0] === 'xfs'), 'the missed change is seen');
});

t.test('the dispatcher waits for a policy being fetched, within the deadline', async (t) => {
  const seen: Policy[] = [];
  const handler = {
    syscalls: ['mknod'] as const,
    handle: (req: Request): Answer => {
      seen.push(req.policy);
      return req.policy.mknod ? OK : CONTINUE;
    },
  };
  let release: (p: Policy) => void = () => {};
  const pending = new Promise<Policy>((r) => (release = r));
  const policies: PolicySource = { lookup: () => pending, close: () => {} };
  const services = {} as Services;
  const d = new Dispatcher({ ...defaultRegistry(), mknod: handler }, policies, services, 200, silentLogger());
  const inc = {
    notif: { id: 1n, pid: 1, flags: 0, nr: 133, arch: 0xc000003e, ip: 0n, args: [0n, 0n, 0n, 0n, 0n, 0n] },
    target: { pid: 1, procFd: -1, listenerFd: -1 },
    container: { name: 'c1', initPid: 1 },
  } as unknown as Parameters<Dispatcher['answer']>[0];
  const a = d.answer(inc);
  t.ok(a instanceof Promise);
  release({ ...EMPTY_POLICY, mknod: true });
  t.same(await a, OK, 'answered with the fetched policy');
  t.equal(seen[0]?.mknod, true);

  const never: PolicySource = { lookup: () => new Promise<Policy>(() => {}), close: () => {} };
  const d2 = new Dispatcher({ ...defaultRegistry(), mknod: handler }, never, services, 50, silentLogger());
  t.same(await d2.answer(inc), CONTINUE, 'a lookup that never ends is answered CONTINUE at the deadline');
});

function writeBackup(containersDir: string, name: string, config: Record<string, string>, mode = 0o400): void {
  const dir = path.join(containersDir, name);
  fs.mkdirSync(dir, { recursive: true });
  const lines = Object.entries(config).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`);
  const file = path.join(dir, 'backup.yaml');
  fs.rmSync(file, { force: true });
  fs.writeFileSync(file, `container:\n  config: {}\n  expanded_config:\n${lines.join('\n')}\n  name: ${name}\n`, { mode });
  fs.chmodSync(file, mode);
}

t.test('a first request never waits for the API: LXD’s backup.yaml answers at once', async (t) => {
  const { lxd, source, lxcPath } = await setup(t);
  // The API would say otherwise: the request is decided on disk, the API read replaces it.
  lxd.set('default', 'c1', { [`${I}mknod`]: 'true', [`${I}mount.allowed`]: 'xfs' });
  writeBackup(lxcPath, 'c1', { [`${I}mknod`]: 'true', [`${I}mount.allowed`]: 'ext4', 'raw.lxc': 'x' });
  const first = source.lookup('c1', lxcPath);
  t.notOk(first instanceof Promise, 'synchronous');
  t.same((first as Policy).mountAllowed, ['ext4']);
  t.ok(await eventually(() => (source.lookup('c1', lxcPath) as Policy).mountAllowed[0] === 'xfs'), 'then the API’s answer');
});

t.test('backup.yaml is believed only when root-owned and not writable by others', async (t) => {
  const { lxcPath } = await setup(t, { start: false });
  const { readBackupConfig } = await import('../compat/lxd/source.js');
  writeBackup(lxcPath, 'c1', { [`${I}mknod`]: 'true' });
  t.same(readBackupConfig(lxcPath, 'c1'), { [`${I}mknod`]: 'true' });
  writeBackup(lxcPath, 'c2', { [`${I}mknod`]: 'true' }, 0o666);
  t.equal(readBackupConfig(lxcPath, 'c2'), undefined, 'group/other writable');
  writeBackup(lxcPath, 'c3', { [`${I}mknod`]: 'true' });
  fs.chownSync(path.join(lxcPath, 'c3', 'backup.yaml'), 100000, 100000);
  t.equal(readBackupConfig(lxcPath, 'c3'), undefined, 'owned by the container’s root');
  fs.mkdirSync(path.join(lxcPath, 'c4'));
  fs.symlinkSync(path.join(lxcPath, 'c1', 'backup.yaml'), path.join(lxcPath, 'c4', 'backup.yaml'));
  t.equal(readBackupConfig(lxcPath, 'c4'), undefined, 'a symlink');
  fs.mkdirSync(path.join(lxcPath, 'c5'));
  fs.writeFileSync(path.join(lxcPath, 'c5', 'backup.yaml'), ': not yaml [', { mode: 0o400 });
  t.equal(readBackupConfig(lxcPath, 'c5'), undefined, 'not YAML');
  t.equal(readBackupConfig(lxcPath, 'missing'), undefined);
});

t.test('LXD down: its copy on disk still serves', async (t) => {
  const { source, lxcPath } = await setup(t, { start: false });
  writeBackup(lxcPath, 'c1', { [`${I}setxattr`]: 'on' });
  t.equal((source.lookup('c1', lxcPath) as Policy).setxattr, true);
  t.equal((source.lookup('c1', lxcPath) as Policy).setxattr, true, 'again, without a storm of retries');
});

t.test('prepare: a starting container is fetched before its first request', async (t) => {
  const { lxd, source, lxcPath } = await setup(t);
  lxd.set('default', 'c1', { [`${I}mknod`]: 'true' });
  t.ok(await eventually(() => lxd.streams === 1), 'the event stream is up (its start re-reads known containers)');
  source.prepare('c1', lxcPath);
  source.prepare('c1', '/var/lib/lxc');
  t.ok(await eventually(() => lxd.gets.length === 1), 'one GET, for LXD’s container only');
  await new Promise((r) => setTimeout(r, 50));
  t.same(lxd.gets, ['/1.0/instances/c1?project=default']);
  t.ok(await eventually(() => !(source.lookup('c1', lxcPath) instanceof Promise)));
  t.equal((source.lookup('c1', lxcPath) as Policy).mknod, true);
});
