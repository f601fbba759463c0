// Decoding failures: a closed set with stable codes, returned (never thrown) by the codecs.

export type ProtocolErrorCode =
  | 'ICD_PROTO_SHORT'
  | 'ICD_PROTO_TRUNCATED'
  | 'ICD_PROTO_RESERVED'
  | 'ICD_PROTO_SIZES'
  | 'ICD_PROTO_COOKIE'
  | 'ICD_PROTO_FDS'
  | 'ICD_PROTO_HELPER'
  // The OCI runtime's state message (protocol/oci-state.ts, src/oci/server.ts).
  | 'ICD_OCI_SIZE'
  | 'ICD_OCI_JSON'
  | 'ICD_OCI_FIELD'
  | 'ICD_OCI_FDS'
  | 'ICD_OCI_TIMEOUT'
  | 'ICD_OCI_LISTENER';

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
  }
}
