// Where a container's policy comes from. The file source reads
// <config-dir>/containers/<name>.yaml (LXD key names) and re-reads a file when it changes.

import fs from 'node:fs';
import path from 'node:path';
import { yaml } from './yaml.js';
import { EMPTY_POLICY, parsePolicy, type ParsedPolicy, type Policy } from './keys.js';

export interface PolicySource {
  /**
   * The container's current policy; a container without one gets no interception.
   * `lxcPath` (liblxc only) says which manager's container it is. A source that must
   * ask another process (LXD) returns a promise the first time; it never rejects.
   */
  lookup(name: string, lxcPath?: string): Policy | Promise<Policy>;
  /** A container's liblxc monitor connected (it is starting): a source may fetch ahead. */
  prepare?(name: string, lxcPath?: string): void;
  close(): void;
}

export interface PolicyLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/** Container names become file names: refuse anything that could leave the directory. */
export function validContainerName(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/.test(name) && !name.includes('..');
}

/** Parses a policy file's text: a YAML map of LXD keys to scalar values. */
export function parsePolicyText(text: string): ParsedPolicy {
  let doc: unknown;
  try {
    doc = yaml().parse(text);
  } catch (err) {
    return { ok: false, errors: [`not valid YAML: ${(err as Error).message}`] };
  }
  if (doc === null || doc === undefined) return parsePolicy({});
  if (typeof doc !== 'object' || Array.isArray(doc)) return { ok: false, errors: ['not a map of configuration keys'] };
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    if (typeof v !== 'string' && typeof v !== 'boolean' && typeof v !== 'number') {
      return { ok: false, errors: [`value of "${k}" must be a string`] };
    }
    config[k] = String(v);
  }
  return parsePolicy(config);
}

export function policyFile(configDir: string, name: string): string {
  return path.join(configDir, 'containers', `${name}.yaml`);
}

interface Entry {
  policy: Policy;
  mtimeMs: number;
}

export class FilePolicySource implements PolicySource {
  private readonly dir: string;
  private readonly cache = new Map<string, Entry>();
  private readonly lastGood = new Map<string, Policy>();
  private watcher: fs.FSWatcher | undefined;

  constructor(
    configDir: string,
    private readonly log: PolicyLog,
  ) {
    this.dir = path.join(configDir, 'containers');
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    // A change to a file drops its cache entry; the next request re-reads it.
    this.watcher = fs.watch(this.dir, (_event, file) => {
      if (file === null) this.cache.clear();
      else this.cache.delete(String(file).replace(/\.yaml$/, ''));
    });
    this.watcher.on('error', (err) => {
      this.log.warn({ err }, 'policy directory watch failed; policies are re-read on every request');
      this.watcher?.close();
      this.watcher = undefined;
    });
    this.watcher.unref();
  }

  /**
   * Re-reads every policy file now (`interceptd reload`, SIGHUP). A file that does not
   * parse keeps its container's previous policy; its errors are returned.
   */
  reload(): { loaded: number; errors: { file: string; errors: string[] }[] } {
    this.cache.clear();
    const errors: { file: string; errors: string[] }[] = [];
    let loaded = 0;
    for (const f of fs.readdirSync(this.dir).filter((n) => n.endsWith('.yaml'))) {
      const name = f.slice(0, -'.yaml'.length);
      if (!validContainerName(name)) continue;
      const file = path.join(this.dir, f);
      let parsed: ParsedPolicy;
      try {
        parsed = parsePolicyText(fs.readFileSync(file, 'utf8'));
      } catch (err) {
        errors.push({ file, errors: [(err as Error).message] });
        continue;
      }
      if (!parsed.ok) errors.push({ file, errors: parsed.errors });
      else loaded++;
      this.load(name);
    }
    return { loaded, errors };
  }

  lookup(name: string): Policy {
    if (this.watcher !== undefined) {
      const hit = this.cache.get(name);
      if (hit !== undefined) return hit.policy;
    }
    return this.load(name);
  }

  private load(name: string): Policy {
    if (!validContainerName(name)) return EMPTY_POLICY;
    const file = path.join(this.dir, `${name}.yaml`);
    let text: string;
    let mtimeMs = 0;
    try {
      mtimeMs = fs.statSync(file).mtimeMs;
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        // No file is a good state too: an invalid file written later must not revive an older policy.
        this.lastGood.delete(name);
      } else {
        this.log.warn({ err, file }, 'cannot read policy file');
      }
      this.cache.set(name, { policy: EMPTY_POLICY, mtimeMs });
      return EMPTY_POLICY;
    }
    const parsed = parsePolicyText(text);
    if (!parsed.ok) {
      // Keep the last good policy: a typo must not silently switch interception off or on.
      const keep = this.lastGood.get(name) ?? EMPTY_POLICY;
      if (this.cache.get(name)?.mtimeMs !== mtimeMs) {
        this.log.warn({ file, errors: parsed.errors }, 'invalid policy file ignored; the previous policy stays');
      }
      this.cache.set(name, { policy: keep, mtimeMs });
      return keep;
    }
    if (this.cache.get(name)?.mtimeMs !== mtimeMs) this.log.info({ container: name, file }, 'policy loaded');
    this.cache.set(name, { policy: parsed.policy, mtimeMs });
    this.lastGood.set(name, parsed.policy);
    return parsed.policy;
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}

/**
 * Policies set per container at run time (an OCI runtime's metadata or annotations),
 * over a fallback source. Each holder (one listener) keeps its entry until it releases
 * it; the newest holder's policy applies while several hold the same name.
 */
export class OverridePolicySource implements PolicySource {
  private readonly held = new Map<string, { policy: Policy; token: object }[]>();

  constructor(private readonly fallback: PolicySource) {}

  /** Sets `name`'s policy until the returned function is called. */
  hold(name: string, policy: Policy): () => void {
    const token = {};
    const list = this.held.get(name) ?? [];
    list.push({ policy, token });
    this.held.set(name, list);
    return () => {
      const rest = (this.held.get(name) ?? []).filter((e) => e.token !== token);
      if (rest.length > 0) this.held.set(name, rest);
      else this.held.delete(name);
    };
  }

  prepare(name: string, lxcPath?: string): void {
    this.fallback.prepare?.(name, lxcPath);
  }

  lookup(name: string, lxcPath?: string): Policy | Promise<Policy> {
    const list = this.held.get(name);
    return list !== undefined ? list[list.length - 1]!.policy : this.fallback.lookup(name, lxcPath);
  }

  close(): void {
    this.held.clear();
    this.fallback.close();
  }
}
