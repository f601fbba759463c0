// LXD's REST API (or Incus's: same paths) over its unix socket. Only what interceptd
// reads: one instance's expanded config, the instance list, and the lifecycle events.

import type WebSocket from 'ws';

export type LxdErrorCode = 'ICD_LXD_UNREACHABLE' | 'ICD_LXD_HTTP' | 'ICD_LXD_PROTOCOL';

export class LxdError extends Error {
  constructor(
    readonly code: LxdErrorCode,
    message: string,
    /** LXD's own error code (an HTTP status), when it answered. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'LxdError';
  }
}

export interface Instance {
  readonly name: string;
  readonly project: string;
  /** `container` or `virtual-machine`. */
  readonly type: string;
  readonly status: string;
  readonly expandedConfig: Readonly<Record<string, string>>;
}

export interface LifecycleEvent {
  readonly action: string;
  /** e.g. `/1.0/instances/c1?project=p`. */
  readonly source: string;
  readonly project: string;
}

/** The sockets Debian's LXD, the snap and Incus listen on, in that order. */
export const LXD_SOCKETS = ['/var/lib/lxd/unix.socket', '/var/snap/lxd/common/lxd/unix.socket', '/var/lib/incus/unix.socket'];

/** An expanded config is a few KiB; anything this large is not LXD talking. */
const MAX_BODY = 4 << 20;

function asInstance(m: unknown, projectHint: string): Instance {
  const o = m as Record<string, unknown> | null;
  if (o === null || typeof o !== 'object' || typeof o.name !== 'string') throw new LxdError('ICD_LXD_PROTOCOL', 'instance without a name');
  const cfg = o.expanded_config;
  const expandedConfig: Record<string, string> = {};
  if (cfg !== null && typeof cfg === 'object') {
    for (const [k, v] of Object.entries(cfg as Record<string, unknown>)) if (typeof v === 'string') expandedConfig[k] = v;
  }
  return {
    name: o.name,
    project: typeof o.project === 'string' && o.project !== '' ? o.project : projectHint,
    type: typeof o.type === 'string' ? o.type : 'container',
    status: typeof o.status === 'string' ? o.status : '',
    expandedConfig,
  };
}

// node:http costs ~11 ms to load: only a daemon that talks to LXD pays it, on first use.
let httpModule: Promise<typeof import('node:http')> | undefined;
const loadHttp = (): Promise<typeof import('node:http')> => (httpModule ??= import('node:http'));

export class LxdClient {
  constructor(
    readonly socketPath: string,
    /** Per request: a lookup must leave time to answer within the request's deadline. */
    readonly timeoutMs = 2000,
  ) {}

  /** GET `path`; resolves LXD's `metadata` of a sync answer. */
  async get(path: string): Promise<unknown> {
    const http = await loadHttp();
    return new Promise((resolve, reject) => {
      const req = http.get({ socketPath: this.socketPath, path, headers: { Host: 'lxd' }, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY) req.destroy(new LxdError('ICD_LXD_PROTOCOL', `answer to ${path} larger than ${MAX_BODY} bytes`));
          else chunks.push(c);
        });
        res.on('error', reject);
        res.on('end', () => {
          let body: { type?: unknown; metadata?: unknown; error?: unknown; error_code?: unknown };
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
          } catch {
            reject(new LxdError('ICD_LXD_PROTOCOL', `answer to ${path} is not JSON (HTTP ${res.statusCode})`));
            return;
          }
          if (body.type === 'sync') resolve(body.metadata);
          else {
            const status = typeof body.error_code === 'number' ? body.error_code : res.statusCode;
            reject(new LxdError('ICD_LXD_HTTP', `GET ${path}: ${String(body.error ?? 'unexpected answer')}`, status));
          }
        });
      });
      req.on('timeout', () => req.destroy(new LxdError('ICD_LXD_UNREACHABLE', `GET ${path}: no answer within ${this.timeoutMs} ms`)));
      req.on('error', (err) =>
        reject(err instanceof LxdError ? err : new LxdError('ICD_LXD_UNREACHABLE', `cannot reach LXD at ${this.socketPath}: ${err.message}`)),
      );
    });
  }

  /** One instance, or undefined when LXD does not know it. */
  async instance(project: string, name: string): Promise<Instance | undefined> {
    try {
      const m = await this.get(`/1.0/instances/${encodeURIComponent(name)}?project=${encodeURIComponent(project)}`);
      return asInstance(m, project);
    } catch (err) {
      if (err instanceof LxdError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** Every instance of every project. */
  async instances(): Promise<Instance[]> {
    const m = await this.get('/1.0/instances?recursion=1&all-projects=true');
    if (!Array.isArray(m)) throw new LxdError('ICD_LXD_PROTOCOL', 'instance list is not a list');
    return m.map((i) => asInstance(i, 'default'));
  }

  /**
   * Streams lifecycle events of all projects until closed. `onOpen` runs once the
   * stream is up; `onClose` once when it ends for any reason.
   */
  events(handlers: { onOpen(): void; onEvent(e: LifecycleEvent): void; onClose(err?: Error): void }): { close(): void } {
    let ws: WebSocket | undefined;
    let closed = false;
    // `ws` costs ~50 ms to load: only a daemon that follows LXD pays it, after start-up.
    import('ws').then(
      ({ default: WS }) => {
        if (closed) return;
        ws = new WS(`ws+unix://${this.socketPath}:/1.0/events?type=lifecycle&all-projects=true`, {
          handshakeTimeout: this.timeoutMs,
          maxPayload: MAX_BODY,
        });
        let failure: Error | undefined;
        ws.on('open', () => handlers.onOpen());
        ws.on('message', (data: WebSocket.RawData) => {
          const e = parseEvent(data.toString());
          if (e !== undefined) handlers.onEvent(e);
        });
        ws.on('error', (err) => (failure = err));
        ws.on('close', () => handlers.onClose(failure));
      },
      (err: Error) => handlers.onClose(err),
    );
    return {
      close: () => {
        closed = true;
        ws?.terminate();
      },
    };
  }
}

/** One frame of the event stream → a lifecycle event, or undefined for anything else. */
export function parseEvent(text: string): LifecycleEvent | undefined {
  let e: { type?: unknown; project?: unknown; metadata?: { action?: unknown; source?: unknown } };
  try {
    e = JSON.parse(text) as typeof e;
  } catch {
    return undefined;
  }
  const m = e?.metadata;
  if (e?.type !== 'lifecycle' || m === undefined || m === null || typeof m.action !== 'string' || typeof m.source !== 'string') return undefined;
  return { action: m.action, source: m.source, project: typeof e.project === 'string' && e.project !== '' ? e.project : 'default' };
}
