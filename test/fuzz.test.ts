// Property-based fuzzing of every decoder that sees hostile bytes: none may throw,
// and whatever they accept must re-encode to a well-formed reply.

import fc from 'fast-check';
import t from 'tap';
import { CONTINUE } from '../protocol/answer.js';
import { decodeHelperReply } from '../protocol/helper-wire.js';
import { parseTaskStatus } from '../protocol/proc-status.js';
import { decodeProxyRequest, encodeProxyReply } from '../protocol/proxy-message.js';
import { parsePolicyText } from '../compat/policy-source.js';
import { parseMonitorTitle } from '../src/liblxc/identify.js';
import { allVectors } from './lib/vectors.js';

const seed = allVectors()[0]!.request;

t.test('decodeProxyRequest never throws on random bytes', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (bytes, truncated) => {
      const buf = Buffer.from(bytes);
      const d = decodeProxyRequest(buf, buf.length, undefined, truncated);
      if (d.ok) t.equal(encodeProxyReply(d.value, CONTINUE).length, 136);
    }),
    { numRuns: 3000 },
  );
  t.pass('no exception');
});

t.test('decodeProxyRequest never throws on mutated real captures', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat({ max: seed.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      fc.integer({ min: 0, max: seed.length }),
      (edits, cut) => {
        const buf = Buffer.from(seed);
        for (const [i, v] of edits) buf[i] = v;
        const d = decodeProxyRequest(buf, cut);
        if (d.ok) {
          t.equal(d.value.cookie.length, cut - 136);
          t.equal(encodeProxyReply(d.value, CONTINUE).length, 136);
        }
      },
    ),
    { numRuns: 3000 },
  );
  t.pass('no exception');
});

t.test('the other decoders never throw', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const buf = Buffer.from(bytes);
      decodeHelperReply(buf, buf.length);
    }),
  );
  fc.assert(fc.property(fc.string({ maxLength: 400 }), (s) => void parseTaskStatus(s)));
  fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => void parsePolicyText(s)));
  fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => void parseMonitorTitle(`[lxc monitor] ${s}`)));
  t.pass('no exception');
});
