// Policies of LXD's own containers, read from LXD's API: each container's expanded
// config, cached and kept current by LXD's lifecycle events. As in LXD, the per-call
// keys (mount.allowed, mount.fuse, mount.shift, bpf.devices) follow `lxc config set` at
// once, while the intercept switches keep their value from the container's start (LXD
// builds the seccomp filter from them then).
//
// A request must never wait for the API: LXD's instance GET asks the container's liblxc
// monitor for its state, and that monitor is blocked waiting for our answer (LXD gives up
// after 5 s). So a container's policy is fetched when its monitor connects, and a request
// that comes first is decided on LXD's own copy of the config on disk (backup.yaml).

import fs from 'node:fs';
import path from 'node:path';
import { yaml } from '../yaml.js';
import { EMPTY_POLICY, INTERCEPT, KNOWN_KEYS, parsePolicy, type ParsedPolicy, type Policy } from '../keys.js';
import type { PolicyLog, PolicySource } from '../policy-source.js';
import type { LifecycleEvent, LxdClient } from './client.js';

/** LXD names a liblxc container `<project>_<instance>`, or `<instance>` in the default project. */
export function splitLxcName(lxcName: string): { project: string; instance: string } {
  const cut = lxcName.indexOf('_');
  return cut < 0 ? { project: 'default', instance: lxcName } : { project: lxcName.slice(0, cut), instance: lxcName.slice(cut + 1) };
}

export function lxcName(project: string, instance: string): string {
  return project === 'default' ? instance : `${project}_${instance}`;
}

/** The liblxc name an event is about, if it is about an instance. */
export function eventTarget(e: LifecycleEvent): string | undefined {
  const m = /^\/1\.0\/instances\/([^/?]+)(?:\?(.*))?$/.exec(e.source);
  if (m === null) return undefined;
  const project = new URLSearchParams(m[2] ?? '').get('project') ?? e.project;
  return lxcName(project, decodeURIComponent(m[1]!));
}

/** The interception keys of an expanded config; LXD owns the filter, so its base-policy keys are not ours. */
export function policyFromConfig(config: Readonly<Record<string, string>>): ParsedPolicy {
  const keys: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) if (k.startsWith(INTERCEPT) && k in KNOWN_KEYS) keys[k] = v;
  return parsePolicy(keys);
}

/**
 * The expanded config in LXD's `<containers>/<name>/backup.yaml`, which LXD rewrites on
 * every change. Only a root-owned file that nobody else can write is believed.
 */
export function readBackupConfig(containersDir: string, lxcName: string): Record<string, string> | undefined {
  const file = path.join(containersDir, lxcName, 'backup.yaml');
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.uid !== 0 || (st.mode & 0o022) !== 0 || st.size > 4 << 20) return undefined;
    const doc = yaml().parse(fs.readFileSync(fd, 'utf8')) as { container?: { expanded_config?: unknown } } | null;
    const cfg = doc?.container?.expanded_config;
    if (cfg === null || typeof cfg !== 'object') return undefined;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(cfg as Record<string, unknown>)) if (typeof v === 'string') out[k] = v;
    return out;
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** Keys LXD reads on every request; everything else is fixed at the container's start. */
function withLiveKeys(atStart: Policy, now: Policy): Policy {
  return { ...atStart, mountAllowed: now.mountAllowed, mountFuse: now.mountFuse, mountShift: now.mountShift, bpfDevices: now.bpfDevices };
}

interface Entry {
  /** undefined while the first fetch runs. */
  policy?: Policy;
  atStart?: Policy;
  pending?: Promise<Policy>;
  /** LXD does not know this name: the fallback source answers. */
  notLxd?: boolean;
  /** Fetched while no event stream ran: re-read after a second. */
  staleAfter?: number;
}

const RETRY_MS = 1000;
const MAX_BACKOFF_MS = 30_000;

export class LxdPolicySource implements PolicySource {
  /** The lxcpath LXD's monitors show: `<LXD_DIR>/containers`. */
  readonly containersDir: string;
  private readonly cache = new Map<string, Entry>();
  private stream: { close(): void } | undefined;
  private streaming = false;
  private closed = false;
  private backoff = RETRY_MS;
  private reconnect: NodeJS.Timeout | undefined;
  /** While LXD is unreachable, new containers get no interception until this time. */
  private downUntil = 0;

  constructor(
    private readonly client: LxdClient,
    private readonly fallback: PolicySource,
    private readonly log: PolicyLog,
    containersDir?: string,
  ) {
    this.containersDir = containersDir ?? path.join(path.dirname(client.socketPath), 'containers');
    this.connect();
  }

  /** A container's monitor connected: it is (re)starting, so its switches are read afresh, now. */
  prepare(name: string, lxcPath?: string): void {
    if (lxcPath !== this.containersDir) return;
    const entry: Entry = {};
    this.cache.set(name, entry);
    void this.fetch(name, entry);
  }

  lookup(name: string, lxcPath?: string): Policy | Promise<Policy> {
    if (lxcPath !== this.containersDir) return this.fallback.lookup(name, lxcPath);
    let e = this.cache.get(name);
    if (e?.notLxd) return this.fallback.lookup(name, lxcPath);
    if (e?.policy !== undefined) {
      if (e.staleAfter !== undefined && Date.now() > Math.max(e.staleAfter, this.downUntil) && e.pending === undefined) void this.fetch(name, e);
      return e.policy;
    }
    if (e === undefined) {
      e = {};
      this.cache.set(name, e);
    }
    if (e.pending === undefined && Date.now() >= this.downUntil) void this.fetch(name, e);
    const onDisk = readBackupConfig(this.containersDir, name);
    const parsed = onDisk !== undefined ? policyFromConfig(onDisk) : undefined;
    if (parsed?.ok) {
      e.atStart = parsed.policy;
      e.policy = parsed.policy;
      e.staleAfter = Date.now();
      return parsed.policy;
    }
    return e.pending ?? EMPTY_POLICY;
  }

  /** Never rejects: on failure the entry keeps what it had (nothing: no interception). */
  private fetch(name: string, e: Entry): Promise<Policy> {
    const { project, instance } = splitLxcName(name);
    const run = (async (): Promise<Policy> => {
      try {
        const inst = await this.client.instance(project, instance);
        // An event may have dropped the entry meanwhile: the answer still holds for this request.
        const current = this.cache.get(name) === e;
        if (inst === undefined || inst.type !== 'container') {
          if (current) e.notLxd = true;
          return await this.fallback.lookup(name);
        }
        const parsed = policyFromConfig(inst.expandedConfig);
        if (!parsed.ok) {
          this.log.warn({ container: name, errors: parsed.errors }, 'LXD config not understood; the previous policy stays');
          return e.policy ?? EMPTY_POLICY;
        }
        const policy = withLiveKeys(e.atStart ?? parsed.policy, parsed.policy);
        if (!current) return policy;
        if (e.policy === undefined) this.log.info({ container: name, project }, 'policy read from LXD');
        e.atStart ??= parsed.policy;
        e.policy = policy;
        e.staleAfter = this.streaming ? undefined : Date.now() + RETRY_MS;
        return policy;
      } catch (err) {
        if (this.downUntil < Date.now()) this.log.warn({ err, container: name }, 'cannot read the policy from LXD; keeping what is known');
        this.downUntil = Date.now() + RETRY_MS;
        if (e.policy === undefined && this.cache.get(name) === e) this.cache.delete(name);
        return e.policy ?? EMPTY_POLICY;
      } finally {
        e.pending = undefined;
      }
    })();
    e.pending = run;
    return run;
  }

  private onEvent(ev: LifecycleEvent): void {
    if (ev.action.startsWith('profile-')) {
      // A profile change reaches every container using it through its expanded config.
      for (const [name, e] of this.cache) if (e.policy !== undefined) void this.fetch(name, e);
      return;
    }
    if (!ev.action.startsWith('instance-')) return;
    if (ev.action === 'instance-renamed') {
      this.cache.clear();
      return;
    }
    const name = eventTarget(ev);
    if (name === undefined) return;
    const e = this.cache.get(name);
    if (ev.action === 'instance-updated') {
      if (e?.policy !== undefined && !e.notLxd) void this.fetch(name, e);
      else this.cache.delete(name);
    } else if (/^instance-(created|deleted|started|restarted|stopped|shutdown)$/.test(ev.action)) {
      // A (re)start builds a new filter: the switches are read afresh.
      this.cache.delete(name);
    }
  }

  private connect(): void {
    if (this.closed) return;
    this.stream = this.client.events({
      onOpen: () => {
        this.streaming = true;
        this.backoff = RETRY_MS;
        // Changes made while no stream ran were missed: read every known container again.
        for (const [name, e] of this.cache) if (e.policy !== undefined && !e.notLxd) void this.fetch(name, e);
        for (const [name, e] of this.cache) if (e.notLxd) this.cache.delete(name);
        this.log.info({ socket: this.client.socketPath }, 'following LXD events');
      },
      onEvent: (ev) => this.onEvent(ev),
      onClose: (err) => {
        const was = this.streaming;
        this.streaming = false;
        this.stream = undefined;
        if (this.closed) return;
        for (const e of this.cache.values()) e.staleAfter = Date.now();
        if (was) this.log.warn({ err, socket: this.client.socketPath }, 'LXD event stream closed; reconnecting');
        this.reconnect = setTimeout(() => this.connect(), this.backoff);
        this.reconnect.unref();
        this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
      },
    });
  }

  /** For status: how many LXD containers are known, and whether events flow. */
  describe(): { socket: string; following: boolean; containers: number } {
    let containers = 0;
    for (const e of this.cache.values()) if (e.policy !== undefined && !e.notLxd) containers++;
    return { socket: this.client.socketPath, following: this.streaming, containers };
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.reconnect);
    this.stream?.close();
    this.fallback.close();
  }
}
