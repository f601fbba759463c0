// liblxc's seccomp proxy message (liblxc-proxy-protocol.md §4–5): decode a request
// datagram, encode the fixed-size reply. Pure: no I/O, never throws on hostile input.

import type { Answer } from './answer.js';
import {
  PROXY_HEADER_SIZE,
  SECCOMP_DATA_SIZE,
  SECCOMP_NOTIF_RESP_SIZE,
  SECCOMP_NOTIF_SIZE,
} from './constants.js';
import { ProtocolError } from './errors.js';
import { decodeNotification, encodeResponseAnswer, type Notification } from './seccomp.js';

export interface NotifSizes {
  readonly notif: number;
  readonly resp: number;
  readonly data: number;
}

export const KERNEL_SIZES: NotifSizes = Object.freeze({
  notif: SECCOMP_NOTIF_SIZE,
  resp: SECCOMP_NOTIF_RESP_SIZE,
  data: SECCOMP_DATA_SIZE,
});

/** Longest cookie accepted; liblxc sends it verbatim, LXD keeps 64 bytes of it. */
export const MAX_COOKIE = 4096;

/** Bytes needed to receive the largest valid request. */
export const MAX_REQUEST = PROXY_HEADER_SIZE + SECCOMP_NOTIF_SIZE + SECCOMP_NOTIF_RESP_SIZE + MAX_COOKIE;

export interface ProxyRequest {
  readonly monitorPid: number;
  readonly initPid: number;
  readonly sizes: NotifSizes;
  readonly notif: Notification;
  /** Empty when no cookie was configured. */
  readonly cookie: string;
  /** The request bytes the reply echoes (header + notif); a copy, safe to keep. */
  readonly echo: Buffer;
}

export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ProtocolError };

function fail(code: ProtocolError['code'], message: string): Decoded<never> {
  return { ok: false, error: new ProtocolError(code, message) };
}

/**
 * Decodes `length` bytes of `buf` as one request. `truncated` is true when the
 * datagram was larger than the receive buffer (MSG_TRUNC).
 */
export function decodeProxyRequest(
  buf: Buffer,
  length: number,
  kernel: NotifSizes = KERNEL_SIZES,
  truncated = false,
): Decoded<ProxyRequest> {
  if (truncated) return fail('ICD_PROTO_TRUNCATED', `datagram of ${length} bytes exceeds the receive buffer`);
  if (length < PROXY_HEADER_SIZE) return fail('ICD_PROTO_SHORT', `${length} bytes is shorter than the header`);
  // 64-bit fields compared as two 32-bit halves: no BigInt on every request.
  if (buf.readUInt32LE(0) !== 0 || buf.readUInt32LE(4) !== 0) return fail('ICD_PROTO_RESERVED', 'reserved header field is not 0');
  const sizes: NotifSizes = { notif: buf.readUInt16LE(16), resp: buf.readUInt16LE(18), data: buf.readUInt16LE(20) };
  if (sizes.notif !== kernel.notif || sizes.resp !== kernel.resp || sizes.data !== kernel.data) {
    return fail(
      'ICD_PROTO_SIZES',
      `struct sizes ${sizes.notif}/${sizes.resp}/${sizes.data} differ from the kernel's ${kernel.notif}/${kernel.resp}/${kernel.data}`,
    );
  }
  const fixed = PROXY_HEADER_SIZE + sizes.notif + sizes.resp;
  if (length < fixed) return fail('ICD_PROTO_SHORT', `${length} bytes is shorter than ${fixed}`);
  if (buf.readUInt32LE(28) !== 0 || buf.readUInt32LE(24) !== length - fixed) {
    return fail('ICD_PROTO_COOKIE', `cookie_len ${buf.readBigUInt64LE(24)} does not match the ${length - fixed} bytes after the fixed part`);
  }
  const notif = decodeNotification(buf, PROXY_HEADER_SIZE);
  const echo = Buffer.allocUnsafe(PROXY_HEADER_SIZE + sizes.notif);
  buf.copy(echo, 0, 0, echo.length);
  return {
    ok: true,
    value: {
      monitorPid: buf.readInt32LE(8),
      initPid: buf.readInt32LE(12),
      sizes,
      notif,
      cookie: length > fixed ? buf.toString('latin1', fixed, length) : '',
      echo,
    },
  };
}

/** The reply: the request's header and notif echoed, then `resp`; exactly 32 + notif + resp bytes, no cookie. */
export function encodeProxyReply(req: ProxyRequest, answer: Answer): Buffer {
  return encodeReplyFromEcho(req.echo, req.sizes, answer);
}

/**
 * A reply from a request's prefix (header + notif, the id inside it): for a live request,
 * or one a crashed daemon left unanswered.
 */
export function encodeReplyFromEcho(echo: Buffer, sizes: NotifSizes, answer: Answer): Buffer {
  const out = Buffer.allocUnsafe(echo.length + sizes.resp);
  echo.copy(out, 0);
  // The response's id is the notification's, already in the echo: copied, not re-encoded.
  echo.copy(out, echo.length, PROXY_HEADER_SIZE, PROXY_HEADER_SIZE + 8);
  encodeResponseAnswer(out, echo.length, answer);
  // Whatever a larger kernel struct has past the 24 bytes written above.
  out.fill(0, echo.length + SECCOMP_NOTIF_RESP_SIZE);
  return out;
}
