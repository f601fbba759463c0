// What every handler's rule returns, and the one way to decline: CONTINUE, so the
// kernel gives its own answer.

import { CONTINUE, type Answer } from '../../protocol/answer.js';
import type { Request } from './types.js';

export type Decision = { readonly kind: 'decline'; readonly reason: string } | { readonly kind: 'emulate' };

export const EMULATE: Decision = Object.freeze({ kind: 'emulate' });

export function decline(reason: string): { readonly kind: 'decline'; readonly reason: string } {
  return { kind: 'decline', reason };
}

/** Answers CONTINUE, saying why at debug level. */
export function declined(req: Request, reason: string): Answer {
  if (req.debug) req.log.debug({ reason }, 'declined');
  return CONTINUE;
}

/**
 * The request is no longer pending: its caller was killed, or a signal interrupted the
 * call (which the kernel may restart as a new request). The dispatcher answers CONTINUE,
 * which reaches no one, logs it at debug level and counts it as a failure.
 */
export class TargetGoneError extends Error {
  readonly code = 'ICD_TARGET_GONE';
  constructor(reason: string) {
    super(`the caller cannot be reached: ${reason}`);
    this.name = 'TargetGoneError';
  }
}
