// Host-side fixtures for mount tests: ext4 images on loop devices, device nodes owned
// by container root (the host's own /dev nodes are 0600 root), and copying a dynamic
// binary with its libraries into a busybox rootfs.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { HOST_ROOT_ID } from './lxc.js';

export interface LoopImage {
  readonly image: string;
  readonly device: string;
  readonly major: number;
  readonly minor: number;
  detach(): void;
}

/** An ext4 image holding `files`, owned by host root on disk, attached to a free loop device. */
export function ext4Loop(dir: string, name: string, files: Record<string, string>): LoopImage {
  const src = path.join(dir, `${name}-src`);
  fs.rmSync(src, { recursive: true, force: true });
  fs.mkdirSync(src, { recursive: true });
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(src, f), text);
  const image = path.join(dir, `${name}.img`);
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', src, image, '16M']);
  const device = execFileSync('losetup', ['-f', '--show', image], { encoding: 'utf8' }).trim();
  const st = fs.statSync(device);
  const major = Number((st.rdev >> 8) & 0xfff);
  const minor = Number((st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00));
  return {
    image,
    device,
    major,
    minor,
    detach: () => {
      try {
        execFileSync('losetup', ['-d', device]);
      } catch {
        // already detached
      }
    },
  };
}

/** A device node on the host owned by container root, to bind into the container's /dev. */
export function containerNode(dir: string, name: string, type: 'b' | 'c', major: number, minor: number): string {
  const node = path.join(dir, name);
  fs.rmSync(node, { force: true });
  execFileSync('mknod', ['-m', '0660', node, type, String(major), String(minor)]);
  fs.chownSync(node, HOST_ROOT_ID, HOST_ROOT_ID);
  return node;
}

/** LXC config lines that bind `node` to /dev/<name> and let the container use it. */
export function deviceConfig(node: string, name: string, type: 'b' | 'c', major: number, minor: number): string[] {
  return [
    `lxc.mount.entry = ${node} dev/${name} none bind,create=file 0 0`,
    `lxc.cgroup.devices.allow = ${type} ${major}:${minor} rwm`,
  ];
}

/** Copies a dynamically linked program and every library ldd names into the rootfs. */
export function copyWithLibs(binary: string, rootfs: string): void {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  const files = [binary];
  for (const line of out.split('\n')) {
    const m = /(\/\S+) \(0x/.exec(line);
    if (m) files.push(m[1]!);
  }
  for (const f of files) {
    const dest = path.join(rootfs, f);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(fs.realpathSync(f), dest);
    fs.chmodSync(dest, 0o755);
  }
}
