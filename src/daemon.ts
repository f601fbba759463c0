// Wires the parts together: policy source → dispatcher (+ helper) → transports (liblxc, OCI).

import os from 'node:os';
import path from 'node:path';
import { FilePolicySource, OverridePolicySource } from '../compat/policy-source.js';
import { OCI_SOCKET } from '../compat/oci-config.js';
import { HelperPool } from '../native/helper.js';
import { kernelNotifSizes } from '../native/seccomp.js';
import type { Logger } from './core/log.js';
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

  constructor(readonly opts: DaemonOptions) {
    prepareStateDir(opts.stateDir);
    this.policies = new FilePolicySource(opts.configDir, opts.log);
    this.ociPolicies = new OverridePolicySource(this.policies);
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

  async start(): Promise<void> {
    await this.helper.ping();
    this.liblxc.listen();
    this.oci.listen();
  }

  stop(): void {
    this.liblxc.close();
    this.oci.close();
    this.helper.close();
    this.ociPolicies.close();
  }
}
