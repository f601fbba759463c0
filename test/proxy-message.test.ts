import t from 'tap';
import { CONTINUE, OK, errno, type Answer } from '../protocol/answer.js';
import { AUDIT_ARCH_X86_64 } from '../protocol/constants.js';
import { decodeProxyRequest, encodeProxyReply, KERNEL_SIZES } from '../protocol/proxy-message.js';
import { resolveSyscall } from '../protocol/syscalls.js';
import { allVectors } from './lib/vectors.js';

const vectors = allVectors();

t.test('the captures are all there', async (t) => {
  t.equal(vectors.length, 21);
});

/** The answer each capture's proxy gave, from the folder and the README's table. */
function answerFor(mode: string, syscall: string): Answer {
  if (mode === 'eperm') return errno(1);
  if (mode === 'continue') return CONTINUE;
  return syscall === 'mknod' || syscall === 'mknodat' ? OK : CONTINUE;
}

for (const v of vectors) {
  t.test(`${v.mode}/${v.syscall}: decodes and re-encodes byte for byte`, async (t) => {
    t.equal(v.request.length, 157);
    t.equal(v.reply.length, 136);
    const d = decodeProxyRequest(v.request, v.request.length, KERNEL_SIZES);
    if (!d.ok) return t.fail(d.error.message);
    const r = d.value;
    t.equal(r.monitorPid, 3406);
    t.equal(r.initPid, 3409);
    t.same(r.sizes, { notif: 80, resp: 24, data: 64 });
    t.equal(r.cookie, 'lxc-harness-cookie-v1');
    t.equal(r.notif.arch, AUDIT_ARCH_X86_64);
    t.equal(r.notif.flags, 0);
    t.equal(r.notif.ip, 0x43a7d9n);
    t.equal(resolveSyscall(r.notif.arch, r.notif.nr)?.name, v.syscall);
    t.equal(r.notif.id, v.request.readBigUInt64LE(0x70), 'resp.id is pre-filled with notif.id');
    const reply = encodeProxyReply(r, answerFor(v.mode, v.syscall));
    t.ok(reply.equals(v.reply), 'reply bytes equal the capture');
  });
}

t.test('decoded arguments match the capture table', async (t) => {
  const byName = new Map(vectors.filter((v) => v.mode === 'eperm').map((v) => [v.syscall, v]));
  const args = (name: string): readonly bigint[] => {
    const d = decodeProxyRequest(byName.get(name)!.request, 157);
    if (!d.ok) throw d.error;
    return d.value.notif.args;
  };
  t.same(args('mknod').slice(0, 3), [0x7ffd83df5e30n, 0x21a4n, 0x103n]);
  t.same(args('mknodat').slice(0, 4), [0xffffff9cn, 0x7ffd83df5f30n, 0x21a4n, 0x103n]);
  t.same(args('setxattr').slice(1, 5), [0x47a2a7n, 0x47a2a1n, 5n, 0n]);
  t.same(args('bpf').slice(0, 3), [0n, 0x7ffd83df5da0n, 0x90n]);
});

t.test('malformed requests give typed errors, never exceptions', async (t) => {
  const good = vectors[0]!.request;
  const cases: [string, Buffer, number, string][] = [
    ['empty', Buffer.alloc(0), 0, 'ICD_PROTO_SHORT'],
    ['header only', good.subarray(0, 32), 32, 'ICD_PROTO_SHORT'],
    ['135 bytes', good.subarray(0, 135), 135, 'ICD_PROTO_SHORT'],
  ];
  const reserved = Buffer.from(good);
  reserved[3] = 1;
  cases.push(['reserved set', reserved, 157, 'ICD_PROTO_RESERVED']);
  const reservedHigh = Buffer.from(good);
  reservedHigh[7] = 0x80;
  cases.push(['reserved set in its upper half', reservedHigh, 157, 'ICD_PROTO_RESERVED']);
  const sizes = Buffer.from(good);
  sizes.writeUInt16LE(88, 16);
  cases.push(['notif size', sizes, 157, 'ICD_PROTO_SIZES']);
  const dataSize = Buffer.from(good);
  dataSize.writeUInt16LE(72, 20);
  cases.push(['data size', dataSize, 157, 'ICD_PROTO_SIZES']);
  const cookie = Buffer.from(good);
  cookie.writeBigUInt64LE(1n << 40n, 24);
  cases.push(['huge cookie_len', cookie, 157, 'ICD_PROTO_COOKIE']);
  const cookieHigh = Buffer.from(good);
  cookieHigh.writeBigUInt64LE((1n << 32n) + 21n, 24);
  cases.push(['cookie_len right in its lower half only', cookieHigh, 157, 'ICD_PROTO_COOKIE']);
  const noCookie = Buffer.from(good);
  cases.push(['cookie_len without cookie bytes', noCookie, 136, 'ICD_PROTO_COOKIE']);
  for (const [name, buf, len, code] of cases) {
    const d = decodeProxyRequest(buf, len);
    t.equal(d.ok ? 'ok' : d.error.code, code, name);
  }
  const trunc = decodeProxyRequest(good, 157, KERNEL_SIZES, true);
  t.equal(trunc.ok ? 'ok' : trunc.error.code, 'ICD_PROTO_TRUNCATED');
});

t.test('a request without cookie is 136 bytes and the reply is 136 bytes', async (t) => {
  const req = Buffer.from(vectors[0]!.request.subarray(0, 136));
  req.writeBigUInt64LE(0n, 24);
  const d = decodeProxyRequest(req, 136);
  if (!d.ok) return t.fail(d.error.message);
  t.equal(d.value.cookie, '');
  const reply = encodeProxyReply(d.value, errno(38));
  t.equal(reply.length, 136);
  t.equal(reply.readInt32LE(0x80), -38);
  t.ok(reply.subarray(0, 0x70).equals(req.subarray(0, 0x70)));
});

t.test('answers encode as the spec table says', async (t) => {
  const req = Buffer.alloc(136);
  req.writeUInt16LE(80, 16);
  req.writeUInt16LE(24, 18);
  req.writeUInt16LE(64, 20);
  req.writeBigUInt64LE(0x1122334455667788n, 0x20);
  const d = decodeProxyRequest(req, 136);
  if (!d.ok) return t.fail(d.error.message);
  const resp = (a: Answer): string => encodeProxyReply(d.value, a).subarray(0x70).toString('hex');
  t.equal(resp(errno(1)), '8877665544332211' + '0000000000000000' + 'ffffffff' + '00000000');
  t.equal(resp(errno(38)), '8877665544332211' + '0000000000000000' + 'daffffff' + '00000000');
  t.equal(resp(CONTINUE), '8877665544332211' + '0000000000000000' + '00000000' + '01000000');
  t.equal(resp({ kind: 'value', value: 5n }), '8877665544332211' + '0500000000000000' + '00000000' + '00000000');
  t.throws(() => errno(0));
  t.throws(() => errno(4096));
});
