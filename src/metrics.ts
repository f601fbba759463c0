// Opt-in Prometheus endpoint (--metrics-listen HOST:PORT or unix:/path). Labels stay
// low-cardinality: syscall and decision, never container names or pids.

import type http from 'node:http';
import fs from 'node:fs';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from './core/log.js';
import type { Stats } from './stats.js';

export interface MetricsSources {
  readonly stats: Stats;
  connected(): { liblxc: number; oci: number };
  helperRestarts(): number;
}

export class MetricsServer {
  private server: http.Server | undefined;
  readonly registry = new Registry();

  constructor(
    private readonly listen: string,
    sources: MetricsSources,
    private readonly log: Logger,
  ) {
    const requests = new Counter({
      name: 'interceptd_requests_total',
      help: 'Seccomp notifications answered, by syscall and decision',
      labelNames: ['syscall', 'decision'],
      registers: [this.registry],
    });
    const duration = new Histogram({
      name: 'interceptd_request_duration_seconds',
      help: 'Time from receiving a notification to its answer',
      labelNames: ['syscall'],
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 5],
      registers: [this.registry],
    });
    sources.stats.onRecord = (syscall, outcome, seconds) => {
      requests.inc({ syscall, decision: outcome });
      duration.observe({ syscall }, seconds);
    };
    new Gauge({
      name: 'interceptd_connected_containers',
      help: 'Containers connected now, by source',
      labelNames: ['source'],
      registers: [this.registry],
      collect() {
        const c = sources.connected();
        this.set({ source: 'liblxc' }, c.liblxc);
        this.set({ source: 'oci' }, c.oci);
      },
    });
    let reported = 0;
    new Counter({
      name: 'interceptd_helper_restarts_total',
      help: 'Privileged helper processes that died or were killed at a deadline',
      registers: [this.registry],
      collect() {
        const now = sources.helperRestarts();
        if (now > reported) this.inc(now - reported);
        reported = now;
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'interceptd_' });
  }

  async start(): Promise<void> {
    // Loaded here, not at the top: in the bundle a static import would load it at every start.
    const { createServer } = await import('node:http');
    this.server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404).end('not found\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(`${(err as Error).message}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      if (this.listen.startsWith('unix:')) {
        const p = this.listen.slice('unix:'.length);
        fs.rmSync(p, { force: true });
        this.server!.listen(p, () => resolve());
      } else {
        const i = this.listen.lastIndexOf(':');
        const host = this.listen.slice(0, i).replace(/^\[|\]$/g, '');
        const port = Number(this.listen.slice(i + 1));
        if (i <= 0 || !Number.isInteger(port)) {
          reject(new Error(`--metrics-listen: expected HOST:PORT or unix:/path, got "${this.listen}"`));
          return;
        }
        this.server!.listen(port, host, () => resolve());
      }
    });
    this.log.info({ listen: this.listen }, 'metrics endpoint listening');
  }

  close(): void {
    this.server?.close();
  }
}
