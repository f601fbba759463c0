// dev_t as the kernel decodes the 32-bit mknod argument (kernel-abi.md §10).

export interface DevNumber {
  readonly major: number;
  readonly minor: number;
}

export function decodeDev(dev: number): DevNumber {
  return { major: (dev >>> 8) & 0xfff, minor: (dev & 0xff) | ((dev >>> 12) & 0xfff00) };
}

export function encodeDev(major: number, minor: number): number {
  return (((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0);
}
