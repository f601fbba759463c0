// Wires the parts together: policy source → dispatcher (+ helper) → transports (liblxc, OCI).

import os from 'node:os';
import path from 'node:path';
import { FilePolicySource, OverridePolicySource, type PolicySource } from '../compat/policy-source.js';
import { LxdClient } from '../compat/lxd/client.js';
import { LxdPolicySource } from '../compat/lxd/source.js';
import { OCI_SOCKET } from '../compat/oci-config.js';
import { HelperPool } from '../native/helper.js';
import { kernelNotifSizes, notifSend } from '../native/seccomp.js';
import { encodeResponse } from '../protocol/seccomp.js';
import { closeFd, sendPlain } from '../native/unix-socket.js';
import { TakeoverServer, takeOver, type Handed, type HandoverSource } from './takeover.js';
import { InflightTable, Keeper, KeptSockets } from './keeper.js';
import { ControlServer } from './control.js';
import type { MetricsServer } from './metrics.js';
import { readDaemonConfig } from './daemon-config.js';
import { VERSION } from './version.js';
import { errno } from '../protocol/answer.js';
import { KERNEL_SIZES, encodeReplyFromEcho } from '../protocol/proxy-message.js';
import { batchedLogger, type DaemonLogger, type Logger } from './core/log.js';
import { prepareStateDir } from './core/state-dir.js';
import { Dispatcher } from './dispatch.js';
import { defaultRegistry } from './handlers/registry.js';
import type { KernelFeatures } from './handlers/types.js';
import { LiblxcServer } from './liblxc/server.js';
import { OciServer } from './oci/server.js';

export interface DaemonOptions {
  readonly stateDir: string;
  readonly configDir: string;
  /** Every request is answered within this many milliseconds. */
  readonly deadlineMs: number;
  readonly helperBinary?: string;
  /** How long the keeper holds the sockets of a daemon that died (default 5000 ms). */
  readonly keeperGraceMs?: number;
  /** The interceptd-keeper binary (default: the one built by npm ci). */
  readonly keeperBinary?: string;
  /** Prometheus endpoint: HOST:PORT or unix:/path (off when absent). */
  readonly metricsListen?: string;
  /** Audit lines go to this file instead of the main log. */
  readonly auditLog?: string;
  /** LXD's (or Incus's) API socket: its containers' policies come from their LXD config. */
  readonly lxdSocket?: string;
  /** Most helper processes run at once (default 4). */
  readonly helpers?: number;
  readonly log: Logger;
}

export const DEFAULTS = { stateDir: '/run/interceptd', configDir: '/etc/interceptd', deadlineMs: 5000 } as const;

/** Linux release as [major, minor]. */
export function kernelVersion(release = os.release()): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

export function probeKernel(release = os.release()): KernelFeatures {
  const [major, minor] = kernelVersion(release);
  const atLeast = (a: number, b: number): boolean => major > a || (major === a && minor >= b);
  return { unprivilegedWhiteouts: atLeast(5, 8), addfdSend: atLeast(5, 14) };
}

export class Daemon {
  readonly policies: FilePolicySource;
  readonly helper: HelperPool;
  readonly dispatcher: Dispatcher;
  readonly liblxc: LiblxcServer;
  /** Per-container policies from OCI runtimes, over the policy files. */
  readonly ociPolicies: OverridePolicySource;
  readonly oci: OciServer;
  /** LXD's containers, when `lxdSocket` is set. */
  readonly lxd: LxdPolicySource | undefined;

  constructor(readonly opts: DaemonOptions) {
    prepareStateDir(opts.stateDir);
    this.policies = new FilePolicySource(opts.configDir, opts.log);
    this.lxd = opts.lxdSocket !== undefined ? new LxdPolicySource(new LxdClient(opts.lxdSocket), this.policies, opts.log) : undefined;
    const base: PolicySource = this.lxd ?? this.policies;
    this.ociPolicies = new OverridePolicySource(base);
    this.helper = new HelperPool(
      { binary: opts.helperBinary, deviceDir: path.join(opts.stateDir, 'helper-devices'), log: opts.log.child({ part: 'helper' }) },
      opts.helpers ?? 4,
    );
    this.dispatcher = new Dispatcher(
      defaultRegistry(),
      this.ociPolicies,
      { helper: this.helper, kernel: probeKernel() },
      opts.deadlineMs,
      opts.log,
    );
    this.liblxc = new LiblxcServer({
      socketPath: path.join(opts.stateDir, 'seccomp.socket'),
      dispatcher: this.dispatcher,
      kernelSizes: kernelNotifSizes(),
      log: opts.log,
    });
    this.oci = new OciServer({
      socketPath: path.join(opts.stateDir, OCI_SOCKET),
      dispatcher: this.dispatcher,
      policies: this.ociPolicies,
      log: opts.log,
    });
  }

  private takeover: TakeoverServer | undefined;

  /**
   * Starts serving: on fresh sockets, or with `takeover` on everything the running
   * daemon serves (it exits once we hold it all). `onHandedOver` runs when a later
   * daemon takes over from this one. `listenFd` is a liblxc listener passed by systemd
   * (socket activation): served instead of binding one, and its path is left in place.
   */
  async start(opts: { takeover?: boolean; onHandedOver?: () => void; listenFd?: number } = {}): Promise<void> {
    // Both are child processes: started side by side, start-up waits for the slower one only.
    const [, { keeper, started }] = await Promise.all([
      this.helper.ping(),
      Keeper.connect(this.opts.stateDir, this.opts.log, this.opts.keeperBinary, this.opts.keeperGraceMs),
    ]);
    this.keeper = keeper;
    // What a crashed daemon left with the keeper (nothing after a takeover or a clean stop).
    const recovered = !started && !opts.takeover ? await keeper.dump() : [];
    const oldTable = recovered.find((k) => k.meta.kind === 'inflight-table');
    const table = oldTable !== undefined ? InflightTable.adopt(oldTable.fd) : InflightTable.create();
    keeper.reset();
    table.reserve(new Set());
    keeper.put({ kind: 'inflight-table' }, table.fd, 1);
    const store = new KeptSockets(keeper, table);
    this.liblxc.store = store;
    this.oci.store = store;
    const lostOci = oldTable !== undefined ? table.pendingOci() : [];

    const sockets: { handed: Handed; fd: number }[] = [];
    let ack: (() => void) | undefined;
    if (opts.takeover) {
      const t = await takeOver(this.opts.stateDir);
      sockets.push(...t.items);
      ack = t.ack;
    } else {
      for (const k of recovered) {
        if (k.meta.kind === 'liblxc-listener') sockets.push({ handed: { kind: 'liblxc-listener' }, fd: k.fd });
        else if (k.meta.kind === 'liblxc-connection') {
          this.answerLost(k.fd, table, k.meta.slot);
          sockets.push({ handed: { kind: 'liblxc-connection', peer: k.meta.peer, name: k.meta.name }, fd: k.fd });
        } else if (k.meta.kind === 'oci-listener') sockets.push({ handed: { kind: 'oci-listener' }, fd: k.fd });
        else if (k.meta.kind === 'oci-notify') {
          for (const lost of lostOci.filter((l) => l.keeperId === k.id)) this.answerLostOci(k.fd, lost.notifId);
          sockets.push({ handed: { kind: 'oci-notify', state: k.meta.state }, fd: k.fd });
        }
      }
    }
    let listening = false;
    let ociListening = false;
    for (const { handed, fd } of sockets) {
      // Under socket activation systemd's fd is the listener; a kept copy is redundant.
      if (handed.kind === 'liblxc-listener' && opts.listenFd === undefined) {
        this.liblxc.adoptListener(fd);
        listening = true;
      } else if (handed.kind === 'liblxc-connection') {
        this.liblxc.adoptConnection(fd, handed.peer, handed.name);
      } else if (handed.kind === 'oci-listener') {
        this.oci.adoptListener(fd);
        ociListening = true;
      } else if (handed.kind === 'oci-notify') {
        this.oci.adopt(handed.state, fd, this.opts.log);
      } else {
        closeFd(fd);
      }
    }
    ack?.();
    if (sockets.length > 0) {
      this.opts.log.info({ adopted: sockets.length, from: opts.takeover ? 'takeover' : 'keeper' }, 'took over from the previous daemon');
    }
    if (opts.listenFd !== undefined) {
      this.liblxc.adoptListener(opts.listenFd, { inherited: true });
      this.opts.log.info({ fd: opts.listenFd }, 'liblxc proxy socket passed by systemd');
    } else if (!listening) this.liblxc.listen();
    if (!ociListening) this.oci.listen();
    const source: HandoverSource = {
      quiesce: async () => {
        await Promise.all([this.liblxc.quiesce(), this.oci.quiesce()]);
      },
      release: () => {
        const { listener, connections } = this.liblxc.release();
        const oci = this.oci.release();
        return [
          { handed: { kind: 'liblxc-listener' }, fd: listener },
          ...connections.map((c) => ({ handed: { kind: 'liblxc-connection', peer: c.peer, name: c.name } as const, fd: c.fd })),
          ...(oci.listener >= 0 ? [{ handed: { kind: 'oci-listener' } as const, fd: oci.listener }] : []),
          ...oci.notify.map((n) => ({ handed: { kind: 'oci-notify', state: n.state } as const, fd: n.fd })),
        ];
      },
    };
    this.takeover = new TakeoverServer(this.opts.stateDir, source, this.opts.log, () => {
      // The next daemon re-registers everything with the keeper: leave it running.
      keeper.detach();
      this.metrics?.close();
      this.control?.close();
      this.helper.close();
      this.ociPolicies.close();
      opts.onHandedOver?.();
    });
    this.takeover.listen();
    if (this.opts.auditLog !== undefined) {
      this.audit = batchedLogger(this.opts.auditLog, { name: 'interceptd-audit' });
      this.dispatcher.auditLog = this.audit.log;
    }
    this.control = new ControlServer(
      this.opts.stateDir,
      (req) => (req.cmd === 'status' ? { ok: true, ...this.status() } : req.cmd === 'reload' ? { ok: true, ...this.reload() } : { ok: false, error: 'unknown command' }),
      this.opts.log,
    );
    this.control.listen();
    if (this.opts.metricsListen !== undefined) {
      // prom-client costs ~50 ms to load: only a daemon that serves metrics pays it.
      const { MetricsServer } = await import('./metrics.js');
      this.metrics = new MetricsServer(
        this.opts.metricsListen,
        {
          stats: this.dispatcher.stats,
          connected: () => ({ liblxc: this.liblxc.connectionCount, oci: this.oci.listenerCount }),
          helperRestarts: () => this.helper.restarts,
        },
        this.opts.log,
      );
      await this.metrics.start();
    }
  }

  /** An OCI notification the crashed daemon received but never answered: its task is still parked. */
  private answerLostOci(fd: number, id: bigint): void {
    const resp = Buffer.alloc(24);
    encodeResponse(resp, 0, id, errno(38));
    const e = notifSend(fd, resp);
    this.opts.log.warn({ id: id.toString(16), delivered: e === 0 }, 'answered ENOSYS to an OCI notification the previous daemon left in flight');
  }

  /**
   * A request the crashed daemon had read but not answered: liblxc is still waiting for
   * it. Answer it now with the failure answer (ENOSYS) rather than let it wait 30 s.
   */
  private answerLost(fd: number, table: InflightTable, slot: number): void {
    const echo = table.pending(slot);
    if (echo === undefined) return;
    table.end(slot);
    try {
      sendPlain(fd, encodeReplyFromEcho(echo, KERNEL_SIZES, errno(38)));
      this.opts.log.warn({ id: echo.readBigUInt64LE(32).toString(16) }, 'answered ENOSYS to a request the previous daemon left in flight');
    } catch (err) {
      this.opts.log.warn({ err }, 'cannot answer a request left in flight');
    }
  }

  private keeper: Keeper | undefined;
  private control: ControlServer | undefined;
  private metrics: MetricsServer | undefined;
  private readonly startedAt = Date.now();
  private audit: DaemonLogger | undefined;

  /** What `interceptd status` shows. */
  status(): Record<string, unknown> {
    const lat = this.dispatcher.stats.latency();
    return {
      version: VERSION,
      pid: process.pid,
      uptimeS: Math.round((Date.now() - this.startedAt) / 1000),
      stateDir: this.opts.stateDir,
      configDir: this.opts.configDir,
      deadlineMs: this.dispatcher.deadlineMs,
      containers: [
        ...this.liblxc.describe().map((c) => ({ source: 'liblxc', name: c.name ?? '(unidentified)', pid: c.monitorPid })),
        ...this.oci.describe().map((c) => ({ source: 'oci', name: c.name, pid: c.pid })),
      ],
      requests: this.dispatcher.stats.total(),
      syscalls: this.dispatcher.stats.snapshot(),
      latencyUs: lat,
      helpers: { running: this.helper.running, restarts: this.helper.restarts },
      ...(this.lxd !== undefined ? { lxd: this.lxd.describe() } : {}),
      memory: process.memoryUsage(),
    };
  }

  /** Re-reads the policy files and the daemon's settings; a bad settings file changes nothing. */
  reload(): Record<string, unknown> {
    const policies = this.policies.reload();
    const settings = readDaemonConfig(this.opts.configDir);
    if (settings.ok) {
      if (settings.settings.logLevel !== undefined) this.opts.log.level = settings.settings.logLevel;
      if (settings.settings.deadlineMs !== undefined) this.dispatcher.deadlineMs = settings.settings.deadlineMs;
    }
    const result = { policies, settings: settings.ok ? { applied: settings.settings } : { refused: settings.errors } };
    this.opts.log.info(result, 'reloaded');
    return result;
  }

  /** A deliberate stop: the keeper goes too, and every socket with it. */
  stop(): void {
    this.audit?.flush();
    this.metrics?.close();
    this.control?.close();
    this.takeover?.close();
    // The sockets go with the keeper; nothing needs to tell it about each one.
    this.liblxc.store = undefined;
    this.oci.store = undefined;
    this.keeper?.quit();
    this.liblxc.close();
    this.oci.close();
    this.helper.close();
    this.ociPolicies.close();
  }
}
