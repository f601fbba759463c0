// Container init pids learned from OCI states, kept in the root-only state directory so a
// restarted interceptd still knows them: crun 1.8 sends pid 0 for an exec'd process.
// A record names a process by pid and start time, so a reused pid never matches.

import fs from 'node:fs';
import path from 'node:path';
import { parseStartTime } from '../../protocol/proc-stat.js';
import { validContainerName } from '../../compat/policy-source.js';
import { readProcText } from '../../native/process.js';

function startTime(pid: number): string | undefined {
  const text = readProcText(`/proc/${pid}/stat`);
  return text === undefined ? undefined : parseStartTime(text)?.toString();
}

export class InitRecords {
  constructor(private readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private file(id: string): string | undefined {
    return validContainerName(id) ? path.join(this.dir, `${id}.json`) : undefined;
  }

  remember(id: string, pid: number): void {
    const file = this.file(id);
    const start = startTime(pid);
    if (file === undefined || start === undefined) return;
    fs.writeFileSync(file, JSON.stringify({ pid, start }), { mode: 0o600 });
  }

  private read(file: string): { pid?: unknown; start?: unknown } {
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8')) as { pid?: unknown; start?: unknown };
    } catch {
      return {};
    }
  }

  /** The recorded init of `id` if that very process still runs, else 0 (and the record goes). */
  recall(id: string): number {
    const file = this.file(id);
    if (file === undefined || !fs.existsSync(file)) return 0;
    const rec = this.read(file);
    if (typeof rec.pid === 'number' && rec.pid > 0 && rec.start === startTime(rec.pid)) return rec.pid;
    fs.rmSync(file, { force: true });
    return 0;
  }

  /** Drops the record of `id` if it names `pid` (its init's listener hung up). */
  forget(id: string, pid: number): void {
    const file = this.file(id);
    if (file !== undefined && this.read(file).pid === pid) fs.rmSync(file, { force: true });
  }
}
