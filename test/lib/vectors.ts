// Loads the golden liblxc captures from shared/vectors (data files, never pasted into tests).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SHARED = process.env.INTERCEPTD_SHARED ?? path.resolve(root, '../shared');
export const VECTORS = path.join(SHARED, 'vectors', 'liblxc-5.0.2');

/** Hex dump lines `OOOO: hh hh …  |ascii|` → bytes; `#` lines are comments. */
export function loadHex(file: string): Buffer {
  const parts: Buffer[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const colon = line.indexOf(':');
    const bar = line.indexOf('|');
    const hex = line.slice(colon + 1, bar < 0 ? undefined : bar).replace(/\s+/g, '');
    parts.push(Buffer.from(hex, 'hex'));
  }
  return Buffer.concat(parts);
}

export interface VectorPair {
  readonly mode: string;
  readonly syscall: string;
  readonly request: Buffer;
  readonly reply: Buffer;
}

export function allVectors(): VectorPair[] {
  if (!fs.existsSync(VECTORS)) {
    throw new Error(`the liblxc wire captures are not at ${VECTORS}: clone next to shared/, or set INTERCEPTD_SHARED to its path`);
  }
  const out: VectorPair[] = [];
  for (const mode of ['eperm', 'continue', 'emulate']) {
    const dir = path.join(VECTORS, mode);
    for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.hex') && !n.endsWith('.reply.hex')).sort()) {
      const syscall = f.replace(/\.hex$/, '');
      out.push({
        mode,
        syscall,
        request: loadHex(path.join(dir, f)),
        reply: loadHex(path.join(dir, `${syscall}.reply.hex`)),
      });
    }
  }
  return out;
}
