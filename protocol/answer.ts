// The three ways to answer a seccomp notification (kernel-abi.md §5).

export type Answer =
  | { readonly kind: 'continue' }
  | { readonly kind: 'errno'; readonly errno: number }
  | { readonly kind: 'value'; readonly value: bigint; readonly inKernel?: true };

export const CONTINUE: Answer = Object.freeze({ kind: 'continue' });
export const OK: Answer = Object.freeze({ kind: 'value', value: 0n });

export function value(v: bigint | number): Answer {
  return { kind: 'value', value: BigInt(v) };
}

/**
 * The kernel already answered with `v` (SECCOMP_ADDFD_FLAG_SEND). The liblxc proxy still
 * replies (its monitor waits for one); an agent that owns the listener must not SEND again.
 */
export function inKernel(v: number): Answer {
  return { kind: 'value', value: BigInt(v), inKernel: true };
}

/** A failure with a positive errno. Out-of-range values would reach the caller as a plain return value. */
export function errno(e: number): Answer {
  if (!Number.isInteger(e) || e < 1 || e > 4095) throw new RangeError(`errno out of range: ${e}`);
  return { kind: 'errno', errno: e };
}

export function describeAnswer(a: Answer): string {
  switch (a.kind) {
    case 'continue':
      return 'continue';
    case 'errno':
      return `errno ${a.errno}`;
    case 'value':
      return `value ${a.value}`;
  }
}
