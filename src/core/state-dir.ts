// The state directory holds root-only sockets: it must be a real directory, owned
// by root, mode 0700, before anything is bound in it, so no socket is ever reachable
// by another user, not even for an instant.

import fs from 'node:fs';

export function prepareStateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) throw new Error(`state directory ${dir} is not a directory`);
  if (st.uid !== process.getuid?.()) throw new Error(`state directory ${dir} is not owned by the daemon's user`);
  if ((st.mode & 0o777) !== 0o700) fs.chmodSync(dir, 0o700);
}

/** Removes a stale socket file, never anything else. */
export function removeStaleSocket(path: string): void {
  try {
    if (fs.lstatSync(path).isSocket()) fs.unlinkSync(path);
    else throw new Error(`${path} exists and is not a socket`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
