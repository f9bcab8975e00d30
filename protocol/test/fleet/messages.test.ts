import t from 'tap';
import { decodeFleetMessage, encodeFleetMessage, validateFleetMessage, FLEET_SCHEMAS, MAX_FLEET_PAYLOAD, CONFIG_INLINE_MAX, HOTLIST_DELTA_MAX_CARDS, type FleetMessageKind } from '../../src/fleet/messages.ts';
import { isProtocolError } from '../../src/errors.ts';

const enc = new TextEncoder();
const samples: { [K in FleetMessageKind]: unknown } = {
  birth: { v: 1, epoch: 3, ts: 1764300000000, versions: { software: '0.1.0', config: 2, keys: 0, hotlist: 9 }, readers: [{ id: 'r0', link: 'serial', status: 'ok', card: false, psam: true }], kind: 'hall-kiosk' },
  death: { v: 1, epoch: 3 },
  tele: { v: 1, epoch: 3, ts: 1, health: 'ok', readers: [], counters: { 'cards.read': 12 }, outbox: { pending: 0, full: false } },
  events: { v: 1, records: [{ eventId: '01JD0000000000', seq: 1, ts: 1, type: 'card.read', body: { ok: true } }] },
  ack: { v: 1, upToSeq: 41 },
  config: { v: 1, version: 4, sha256: 'a'.repeat(64) },
  'config/status': { v: 1, version: 4, status: 'rejected', error: { code: 'TERM_ERR_CONFIG_SCHEMA', message: '/readers/0: required' } },
  'jobs/notify': { v: 1, next: { jobId: 'job-1', kind: 'keys', version: 2 } },
  'jobs/progress': { v: 1, status: 'succeeded', kcv: 'A1B2C3' },
  hotlist: { v: 1, version: 10 },
  'hotlist/delta': { v: 1, fromVersion: 9, version: 10, add: ['X00000019'], remove: [] },
  'rpc/request': { v: 1, method: 'diagnostics' },
  'rpc/response': { v: 1, ok: true, result: { uptime: 5 } },
};

t.test('every kind round trips', async (t) => {
  for (const kind of Object.keys(FLEET_SCHEMAS) as FleetMessageKind[]) {
    const msg = samples[kind];
    const bytes = encodeFleetMessage(kind, msg as never);
    t.same(decodeFleetMessage(kind, bytes), msg, kind);
  }
});

t.test('bad payloads fail with their codes', async (t) => {
  t.throws(() => decodeFleetMessage('ack', enc.encode('{"v":1,')), { code: 'PROTO_ERR_FLEET_JSON' });
  t.throws(() => decodeFleetMessage('ack', new Uint8Array([0x7b, 0xff, 0x7d])), { code: 'PROTO_ERR_FLEET_JSON' }, 'invalid UTF-8');
  t.throws(() => decodeFleetMessage('ack', enc.encode('{"v":2,"upToSeq":1}')), { code: 'PROTO_ERR_FLEET_VERSION' });
  t.throws(() => decodeFleetMessage('ack', enc.encode('{"v":1,"upToSeq":-1}')), { code: 'PROTO_ERR_FLEET_SCHEMA', details: { path: '/upToSeq' } });
  t.throws(() => decodeFleetMessage('ack', enc.encode('{"v":1,"upToSeq":1,"extra":0}')), { code: 'PROTO_ERR_FLEET_SCHEMA' });
  t.throws(() => decodeFleetMessage('config', enc.encode('{"v":1,"version":1,"sha256":"zz"}')), { code: 'PROTO_ERR_FLEET_SCHEMA', details: { path: '/sha256' } });
  t.throws(() => decodeFleetMessage('events', enc.encode('{"v":1,"records":[]}')), { code: 'PROTO_ERR_FLEET_SCHEMA' });
  t.throws(() => decodeFleetMessage('ack', new Uint8Array(MAX_FLEET_PAYLOAD + 1)), { code: 'PROTO_ERR_FLEET_PAYLOAD_TOO_LARGE' });
  t.throws(() => encodeFleetMessage('death', { v: 1, epoch: -1 }), { code: 'PROTO_ERR_FLEET_SCHEMA' });
  t.throws(() => validateFleetMessage('birth', null), { code: 'PROTO_ERR_FLEET_SCHEMA' });
});

t.test('config pointer with its document inline; birth features; hotlist delta', async (t) => {
  const body = '{"a":1}';
  t.same(decodeFleetMessage('config', encodeFleetMessage('config', { v: 1, version: 4, sha256: 'b'.repeat(64), body })), { v: 1, version: 4, sha256: 'b'.repeat(64), body });
  t.throws(() => encodeFleetMessage('config', { v: 1, version: 4, sha256: 'b'.repeat(64), body: 'x'.repeat(CONFIG_INLINE_MAX + 1) }), { code: 'PROTO_ERR_FLEET_SCHEMA', details: { path: '/body' } }, 'over the inline limit');
  const birth = { v: 1, epoch: 1, ts: 1, versions: { software: '1', config: 0, keys: 0, hotlist: 0 }, readers: [], accepts: ['config-body'] };
  t.same(decodeFleetMessage('birth', enc.encode(JSON.stringify(birth))), birth);
  t.throws(() => decodeFleetMessage('birth', enc.encode(JSON.stringify({ ...birth, accepts: ['everything'] }))), { code: 'PROTO_ERR_FLEET_SCHEMA' }, 'unknown feature');
  t.throws(() => decodeFleetMessage('birth', enc.encode(JSON.stringify({ ...birth, accepts: ['config-body', 'config-body'] }))), { code: 'PROTO_ERR_FLEET_SCHEMA' }, 'repeated feature');
  t.throws(() => decodeFleetMessage('hotlist/delta', enc.encode('{"v":1,"fromVersion":1,"version":2,"add":["x0000001"],"remove":[]}')), { code: 'PROTO_ERR_FLEET_SCHEMA', details: { path: '/add/0' } }, 'not a card number');
  const many = Array.from({ length: HOTLIST_DELTA_MAX_CARDS + 1 }, (_, i) => `A${String(i).padStart(8, '0')}`);
  t.throws(() => encodeFleetMessage('hotlist/delta', { v: 1, fromVersion: 1, version: 2, add: many, remove: [] }), { code: 'PROTO_ERR_FLEET_SCHEMA' }, 'too many cards');
});

t.test('random bytes and random JSON only ever give coded errors', async (t) => {
  let seed = 99;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const kinds = Object.keys(FLEET_SCHEMAS) as FleetMessageKind[];
  let accepted = 0;
  for (let i = 0; i < 20000; i++) {
    const kind = kinds[rnd(kinds.length)]!;
    let payload: Uint8Array;
    if (i % 2 === 0) {
      payload = new Uint8Array(rnd(64)).map(() => rnd(256));
    } else {
      // mutate a valid sample at the JSON text level
      const text = JSON.stringify(samples[kind]);
      const pos = rnd(text.length);
      payload = enc.encode(text.slice(0, pos) + String.fromCharCode(32 + rnd(90)) + text.slice(pos + 1));
    }
    try {
      decodeFleetMessage(kind, payload);
      accepted++;
    } catch (e) {
      if (!isProtocolError(e)) t.fail(`uncoded error for ${kind}: ${String(e)}`);
    }
  }
  t.ok(accepted < 20000, `${accepted} mutated payloads were still valid`);
});
