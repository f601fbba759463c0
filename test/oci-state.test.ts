// The OCI state decoder against real runc 1.1.5 and crun 1.8.1 captures (data files in
// test/fixtures/oci-state/) and every way a message can be wrong.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import t from 'tap';
import { MAX_STATE, decodeOciState } from '../protocol/oci-state.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'oci-state');
const capture = (name: string): Buffer => fs.readFileSync(path.join(FIXTURES, name));
const METADATA = 'security.syscalls.intercept.mknod=true\nsecurity.syscalls.intercept.setxattr=true\nsecurity.syscalls.intercept.sysinfo=true';

function json(doc: unknown): Buffer {
  return Buffer.from(JSON.stringify(doc));
}

const good = JSON.parse(capture('runc-1.1.5-create.json').toString()) as Record<string, unknown>;

t.test('runc 1.1.5: container start and exec', async (t) => {
  const create = decodeOciState(capture('runc-1.1.5-create.json'), 1);
  if (!create.ok) return t.fail(create.error.message);
  t.match(create.value, { pid: 31531, seccompFdIndex: 0, metadata: METADATA, state: { id: 'r3', status: 'creating', pid: 31531 } });
  t.same(create.value.state.annotations, { 'org.example': 'x' });
  const exec = decodeOciState(capture('runc-1.1.5-exec.json'), 1);
  if (!exec.ok) return t.fail(exec.error.message);
  t.match(exec.value, { pid: 31547, state: { status: 'running', pid: 31531 } }, 'state.pid is the init');
});

t.test('crun 1.8.1: pretty-printed; an exec has pid 0', async (t) => {
  const create = decodeOciState(capture('crun-1.8.1-create.json'), 1);
  if (!create.ok) return t.fail(create.error.message);
  t.match(create.value, { ociVersion: '0.2.0', pid: 31504, state: { id: 'c3', status: 'creating', pid: 31504 } });
  const exec = decodeOciState(capture('crun-1.8.1-exec.json'), 1);
  if (!exec.ok) return t.fail(exec.error.message);
  t.equal(exec.value.pid, 0);
  t.equal(exec.value.state.pid, undefined, 'state.pid 0 means unknown');
  t.equal(exec.value.state.bundle, '.');
});

t.test('optional fields may be missing', async (t) => {
  const { metadata: _m, ...noMeta } = good;
  const state = { ...(good.state as object) } as Record<string, unknown>;
  delete state.annotations;
  delete state.pid;
  const d = decodeOciState(json({ ...noMeta, state }), 1);
  if (!d.ok) return t.fail(d.error.message);
  t.equal(d.value.metadata, undefined);
  t.equal(d.value.state.pid, undefined);
  t.same(d.value.state.annotations, {});
});

t.test('fds: seccompFd required, names must match what arrived', async (t) => {
  t.match(decodeOciState(json({ ...good, fds: [] }), 0), { ok: false, error: { code: 'ICD_OCI_FDS' } }, 'no seccompFd');
  t.match(decodeOciState(json({ ...good, fds: ['other'] }), 1), { ok: false, error: { code: 'ICD_OCI_FDS' } }, 'another name');
  t.match(decodeOciState(json(good), 0), { ok: false, error: { code: 'ICD_OCI_FDS' } }, 'a message without fds');
  t.match(decodeOciState(json(good), 2), { ok: false, error: { code: 'ICD_OCI_FDS' } }, 'more fds than names');
  t.match(decodeOciState(json({ ...good, fds: ['seccompFd', 'seccompFd'] }), 2), { ok: false, error: { code: 'ICD_OCI_FDS' } }, 'named twice');
  const second = decodeOciState(json({ ...good, fds: ['pidFd', 'seccompFd'] }), 2);
  t.match(second, { ok: true, value: { seccompFdIndex: 1 } }, 'index follows the names');
});

t.test('not one JSON document', async (t) => {
  const whole = capture('runc-1.1.5-create.json');
  const cases: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['truncated', whole.subarray(0, whole.length - 10)],
    ['garbage', Buffer.from('{not json')],
    ['two documents', Buffer.concat([whole, whole])],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d])],
  ];
  for (const [name, bytes] of cases) t.match(decodeOciState(bytes, 1), { ok: false, error: { code: 'ICD_OCI_JSON' } }, name);
});

t.test('oversized', async (t) => {
  const big = json({ ...good, metadata: 'x'.repeat(MAX_STATE) });
  t.match(decodeOciState(big, 1), { ok: false, error: { code: 'ICD_OCI_SIZE' } });
});

t.test('wrong types', async (t) => {
  const state = good.state as Record<string, unknown>;
  const cases: [string, unknown][] = [
    ['array', [good]],
    ['string', 'state'],
    ['ociVersion', { ...good, ociVersion: 1 }],
    ['fds', { ...good, fds: 'seccompFd' }],
    ['fds entries', { ...good, fds: [1] }],
    ['pid negative', { ...good, pid: -1 }],
    ['pid fraction', { ...good, pid: 1.5 }],
    ['pid string', { ...good, pid: '1' }],
    ['metadata', { ...good, metadata: { a: 1 } }],
    ['state missing', { ...good, state: undefined }],
    ['state.id empty', { ...good, state: { ...state, id: '' } }],
    ['state.status', { ...good, state: { ...state, status: 3 } }],
    ['state.pid', { ...good, state: { ...state, pid: 'x' } }],
    ['state.bundle', { ...good, state: { ...state, bundle: null } }],
    ['annotations', { ...good, state: { ...state, annotations: [] } }],
    ['annotation value', { ...good, state: { ...state, annotations: { a: 1 } } }],
  ];
  for (const [name, doc] of cases) t.match(decodeOciState(json(doc), 1), { ok: false, error: { code: 'ICD_OCI_FIELD' } }, name);
});

t.test('a __proto__ annotation is data, not a prototype', async (t) => {
  const text = capture('runc-1.1.5-create.json').toString().replace('"org.example":"x"', '"__proto__":"y"');
  const d = decodeOciState(Buffer.from(text), 1);
  if (!d.ok) return t.fail(d.error.message);
  t.equal(Object.getPrototypeOf(d.value.state.annotations), Object.prototype);
  t.equal(Object.getOwnPropertyDescriptor(d.value.state.annotations, '__proto__')?.value, 'y');
});

t.test('never throws on mutated captures', async (t) => {
  const seed = capture('crun-1.8.1-create.json');
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat({ max: seed.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.integer({ min: 0, max: seed.length }),
      fc.nat({ max: 3 }),
      (edits, cut, fds) => {
        const buf = Buffer.from(seed.subarray(0, cut));
        for (const [i, v] of edits) if (i < buf.length) buf[i] = v;
        const d = decodeOciState(buf, fds);
        if (d.ok) t.equal(d.value.fds.length, fds);
      },
    ),
    { numRuns: 2000 },
  );
  t.pass('no exception');
});
