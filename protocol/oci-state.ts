// The OCI runtime's ContainerProcessState (oci-seccomp-agent.md §1–2): one JSON document
// per connection, its fds named in `fds`. Pure: no I/O, never throws on hostile input.

import { ProtocolError } from './errors.js';
import type { Decoded } from './proxy-message.js';

/** Largest state accepted. runc and crun send a few hundred bytes plus the annotations. */
export const MAX_STATE = 64 * 1024;
/** More fds than this in one message is refused (the spec defines only seccompFd). */
export const MAX_STATE_FDS = 8;

export interface OciState {
  readonly ociVersion: string;
  /** Names of the fds passed with SCM_RIGHTS, in order. */
  readonly fds: readonly string[];
  /** Index of `seccompFd` in `fds` (and in the SCM_RIGHTS array). */
  readonly seccompFdIndex: number;
  /** The process that owns the listener, as the runtime sees it (the host); 0 when not given (crun 1.8 exec). */
  readonly pid: number;
  /** `listenerMetadata` verbatim; undefined when not set. */
  readonly metadata: string | undefined;
  readonly state: {
    readonly ociVersion: string;
    readonly id: string;
    readonly status: string;
    /** The container's init; undefined when the runtime did not say. */
    readonly pid: number | undefined;
    readonly bundle: string;
    readonly annotations: Readonly<Record<string, string>>;
  };
}

function fail(code: ProtocolError['code'], message: string): Decoded<never> {
  return { ok: false, error: new ProtocolError(code, message) };
}

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A pid, or 0 for "not known": crun 1.8 sends 0 for an exec'd process. */
const isPid = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0x3fffffff;

/** A problem with one field, named by its JSON path; undefined when the field is fine. */
function checkFields(doc: Obj): string | undefined {
  if (typeof doc.ociVersion !== 'string') return 'ociVersion must be a string';
  if (!Array.isArray(doc.fds) || !doc.fds.every((f) => typeof f === 'string')) return 'fds must be an array of strings';
  if (!isPid(doc.pid)) return 'pid must be a non-negative integer';
  if (doc.metadata !== undefined && typeof doc.metadata !== 'string') return 'metadata must be a string';
  const st = doc.state;
  if (!isObject(st)) return 'state must be an object';
  if (typeof st.ociVersion !== 'string') return 'state.ociVersion must be a string';
  if (typeof st.id !== 'string' || st.id === '') return 'state.id must be a non-empty string';
  if (typeof st.status !== 'string') return 'state.status must be a string';
  if (st.pid !== undefined && !isPid(st.pid)) return 'state.pid must be a non-negative integer';
  if (typeof st.bundle !== 'string') return 'state.bundle must be a string';
  if (st.annotations !== undefined) {
    if (!isObject(st.annotations)) return 'state.annotations must be an object';
    for (const [k, v] of Object.entries(st.annotations)) {
      if (typeof v !== 'string') return `state.annotations["${k}"] must be a string`;
    }
  }
  return undefined;
}

/**
 * Decodes the whole state (everything read until EOF). `fdCount` is the number of fds
 * that arrived with it; they must match the names in `fds` one for one.
 */
export function decodeOciState(bytes: Buffer, fdCount: number): Decoded<OciState> {
  if (bytes.length > MAX_STATE) return fail('ICD_OCI_SIZE', `state of ${bytes.length} bytes exceeds ${MAX_STATE}`);
  if (bytes.length === 0) return fail('ICD_OCI_JSON', 'empty state');
  let doc: unknown;
  try {
    // Trailing data (a second document) makes JSON.parse fail too.
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    return fail('ICD_OCI_JSON', `not one JSON document: ${(err as Error).message}`);
  }
  if (!isObject(doc)) return fail('ICD_OCI_FIELD', 'the state is not a JSON object');
  const problem = checkFields(doc);
  if (problem !== undefined) return fail('ICD_OCI_FIELD', problem);
  const fds = doc.fds as string[];
  if (fds.length !== fdCount) {
    return fail('ICD_OCI_FDS', `fds names ${fds.length} descriptors but ${fdCount} arrived with the message`);
  }
  const seccompFdIndex = fds.indexOf('seccompFd');
  if (seccompFdIndex < 0) return fail('ICD_OCI_FDS', 'no seccompFd among the fds');
  if (fds.lastIndexOf('seccompFd') !== seccompFdIndex) return fail('ICD_OCI_FDS', 'seccompFd named twice');
  const st = doc.state as Obj;
  return {
    ok: true,
    value: {
      ociVersion: doc.ociVersion as string,
      fds,
      seccompFdIndex,
      pid: doc.pid as number,
      metadata: doc.metadata as string | undefined,
      state: {
        ociVersion: st.ociVersion as string,
        id: st.id as string,
        status: st.status as string,
        pid: st.pid === 0 ? undefined : (st.pid as number | undefined),
        bundle: st.bundle as string,
        annotations: { ...((st.annotations as Record<string, string> | undefined) ?? {}) },
      },
    },
  };
}
