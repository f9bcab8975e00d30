/**
 * The broker's limit decisions as pure functions, table-tested: the packet gate that reads only
 * fixed headers [MQTT-2.2.3] (every split of a stream, hostile lengths, pre-authentication budget),
 * connection admission, and the split of the open-file limit between MQTT and HTTP.
 */
import t from 'tap';
import { PacketGate, type PacketLimits } from '../../src/broker/packet-gate.ts';
import { admitConnection, isLoopbackAddress, splitDescriptors, parseOpenFileLimit, DEFAULT_BROKER_LIMITS, DESCRIPTOR_RESERVE } from '../../src/broker/limits.ts';
import { MAX_FLEET_PAYLOAD } from '@onecard/protocol/fleet';

const L: PacketLimits = { maxConnectBytes: 100, maxPublishBytes: 1000, maxOtherBytes: 50, maxPreAuthBytes: 300 };

/** Remaining-length varint [MQTT-2.2.3]. */
function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}
const packet = (first: number, len: number): Uint8Array => new Uint8Array([first, ...varint(len), ...new Array<number>(len).fill(0x61)]);
const header = (first: number, len: number): Uint8Array => new Uint8Array([first, ...varint(len)]);
const cat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};
const reason = (v: ReturnType<PacketGate['push']>): string => (v.ok ? 'ok' : v.reason);

t.test('varint sanity', async (t) => {
  t.same(varint(0), [0]);
  t.same(varint(127), [0x7f]);
  t.same(varint(128), [0x80, 0x01]);
  t.same(varint(268_435_455), [0xff, 0xff, 0xff, 0x7f]);
});

t.test('a legitimate stream passes however it is split into chunks', async (t) => {
  const stream = cat(packet(0x10, 100), packet(0x82, 50), packet(0x32, 1000), packet(0xc0, 0), packet(0x40, 2), packet(0x30, 0), packet(0xe0, 0));
  for (let size = 1; size <= stream.length; size += size < 8 ? 1 : 37) {
    const g = new PacketGate({ ...L, maxPreAuthBytes: 10_000 });
    let v = 'ok';
    for (let i = 0; i < stream.length && v === 'ok'; i += size) v = reason(g.push(stream.subarray(i, i + size)));
    if (v !== 'ok') t.fail(`chunk size ${size}: ${v}`);
    if (g.partialBytes !== 0) t.fail(`chunk size ${size}: ${g.partialBytes} bytes left partial`);
  }
  t.pass('every chunking accepted, nothing left partial');
});

t.test('refusals come from the fixed header, before the body [MQTT-2.2.3] [MQTT-3.1.0-1] [MQTT-3.1.0-2]', async (t) => {
  // [name, stream, verdict, index of the byte that decides, announced length]
  const cases: [string, Uint8Array, string, number, number?][] = [
    ['announced 250 MiB CONNECT', header(0x10, 250 * 1024 * 1024), 'connect-too-large', 4, 250 * 1024 * 1024],
    ['CONNECT one byte over', header(0x10, 101), 'connect-too-large', 1, 101],
    ['CONNECT at the limit', packet(0x10, 100), 'ok', -1],
    ['first packet PUBLISH', packet(0x30, 5), 'first-packet-not-connect', 0],
    ['first packet PINGREQ', packet(0xc0, 0), 'first-packet-not-connect', 0],
    ['second CONNECT', cat(packet(0x10, 10), header(0x10, 10)), 'second-connect', 12],
    ['PUBLISH over the limit', cat(packet(0x10, 10), header(0x30, 1001)), 'publish-too-large', 14, 1001],
    ['PUBLISH QoS 1 retained over the limit', cat(packet(0x10, 10), header(0x33, 5000)), 'publish-too-large', 14, 5000],
    ['SUBSCRIBE over the limit', cat(packet(0x10, 10), header(0x82, 51)), 'packet-too-large', 13, 51],
    ['5-byte remaining length', cat(packet(0x10, 10), new Uint8Array([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), 'malformed-length', 16],
    ['4-byte maximum on a CONNECT', new Uint8Array([0x10, 0xff, 0xff, 0xff, 0x7f]), 'connect-too-large', 4, 268_435_455],
  ];
  for (const [name, bytes, want, decides, announced] of cases) {
    const g = new PacketGate(L);
    const v = g.push(bytes);
    t.equal(reason(v), want, name);
    if (announced !== undefined && !v.ok) t.equal(v.announced, announced, `${name}: announced length reported`);
    // Byte by byte gives the same verdict, at the header byte that decides: no body is needed.
    const g2 = new PacketGate(L);
    let r = 'ok';
    let at = -1;
    for (let i = 0; i < bytes.length && r === 'ok'; i++) { r = reason(g2.push(bytes.subarray(i, i + 1))); at = i; }
    t.equal(r, want, `${name} (byte by byte)`);
    if (want !== 'ok') t.equal(at, decides, `${name}: refused at byte ${decides}`);
  }
});

t.test('a refused gate stays refused', async (t) => {
  const g = new PacketGate(L);
  t.equal(reason(g.push(header(0x10, 1_000_000))), 'connect-too-large');
  t.equal(reason(g.push(new Uint8Array(10))), 'connect-too-large');
});

t.test('pre-authentication byte budget, lifted once authenticated', async (t) => {
  const g = new PacketGate(L);
  t.equal(reason(g.push(packet(0x10, 100))), 'ok');
  t.equal(reason(g.push(cat(packet(0x32, 150)))), 'ok', `${g.totalBytes} bytes so far`);
  t.equal(reason(g.push(packet(0x32, 60))), 'pre-auth-bytes', 'pipelined bytes behind an unanswered CONNECT are capped');
  const h = new PacketGate(L);
  h.push(packet(0x10, 100));
  h.authenticated();
  for (let i = 0; i < 10; i++) t.equal(reason(h.push(packet(0x32, 1000))), 'ok');
});

t.test('partialBytes follows the incomplete packet', async (t) => {
  const g = new PacketGate({ ...L, maxPreAuthBytes: 10_000 });
  g.push(header(0x10, 90));
  t.equal(g.partialBytes, 2);
  g.push(new Uint8Array(40));
  t.equal(g.partialBytes, 42);
  g.push(new Uint8Array(50));
  t.equal(g.partialBytes, 0, 'complete packet: nothing held');
  g.push(cat(packet(0x82, 5), header(0x30, 900), new Uint8Array(100)));
  t.equal(g.partialBytes, 103);
});

t.test('random bytes never throw and never let an over-limit packet through (5,000 streams)', async (t) => {
  let seed = 0xb10c;
  const rnd = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n; };
  let refused = 0;
  for (let i = 0; i < 5_000; i++) {
    const g = new PacketGate(L);
    const bytes = new Uint8Array(1 + rnd(40)).map(() => rnd(256));
    if (rnd(2) === 0) bytes[0] = 0x10;
    const v = g.push(bytes);
    if (!v.ok) refused++;
    if (g.partialBytes > L.maxPublishBytes + 5) t.fail(`holds ${g.partialBytes}`);
  }
  t.ok(refused > 1000, `${refused} random streams refused`);
});

t.test('defaults: CONNECT of a few KiB, PUBLISH at the protocol maximum', async (t) => {
  const g = new PacketGate(DEFAULT_BROKER_LIMITS);
  t.equal(reason(g.push(packet(0x10, 300))), 'ok');
  g.authenticated();
  const topic = 't/T0123456789abcdef/up/events';
  const body = 2 + topic.length + 2 + MAX_FLEET_PAYLOAD;
  t.equal(reason(g.push(header(0x32, body))), 'ok', 'largest fleet uplink passes');
  t.ok(DEFAULT_BROKER_LIMITS.maxConnectBytes <= 8192, 'CONNECT limit is a few KiB');
  const h = new PacketGate(DEFAULT_BROKER_LIMITS);
  h.push(packet(0x10, 300));
  h.authenticated();
  t.equal(reason(h.push(header(0x32, MAX_FLEET_PAYLOAD + 1024))), 'publish-too-large');
});

t.test('admitConnection: totals, per address, pending', async (t) => {
  const l = { maxConnections: 10, maxPerAddress: 5, maxPending: 4, maxPendingPerAddress: 2 };
  const cases: [string, { total: number; pending: number; fromAddress: number; pendingFromAddress: number }, string][] = [
    ['empty', { total: 0, pending: 0, fromAddress: 0, pendingFromAddress: 0 }, 'ok'],
    ['listener full', { total: 10, pending: 0, fromAddress: 0, pendingFromAddress: 0 }, 'too-many-connections'],
    ['address full', { total: 5, pending: 0, fromAddress: 5, pendingFromAddress: 0 }, 'too-many-from-address'],
    ['pending full', { total: 4, pending: 4, fromAddress: 0, pendingFromAddress: 0 }, 'too-many-pending'],
    ['address pending full', { total: 2, pending: 2, fromAddress: 2, pendingFromAddress: 2 }, 'too-many-pending-from-address'],
    ['authenticated ones from the address do not count as pending', { total: 9, pending: 1, fromAddress: 4, pendingFromAddress: 1 }, 'ok'],
  ];
  for (const [name, c, want] of cases) {
    const v = admitConnection(c, l);
    t.equal(v.ok ? 'ok' : v.reason, want, name);
  }
  const exempt = admitConnection({ total: 5, pending: 2, fromAddress: 5, pendingFromAddress: 2 }, l, false);
  t.ok(exempt.ok, 'without per-address caps only the totals count');
  t.same(admitConnection({ total: 10, pending: 0, fromAddress: 10, pendingFromAddress: 0 }, l, false), { ok: false, reason: 'too-many-connections' });
  t.same(['127.0.0.1', '127.9.9.9', '::ffff:127.0.0.1', '::1', '10.0.0.1', '::ffff:10.0.0.1', '2001:db8::1'].map(isLoopbackAddress), [true, true, true, true, false, false, false]);
});

t.test('splitDescriptors: HTTP keeps its share when MQTT would take everything', async (t) => {
  t.same(splitDescriptors(undefined, { mqtt: 20_000, http: 1024 }), { mqtt: 20_000, http: 1024, reduced: false }, 'unknown limit: as configured');
  t.same(splitDescriptors(1_048_576, { mqtt: 20_000, http: 1024 }), { mqtt: 20_000, http: 1024, reduced: false }, 'large limit: as configured');
  const b = splitDescriptors(1024, { mqtt: 20_000, http: 1024 });
  t.ok(b.reduced);
  t.ok(b.mqtt + b.http + DESCRIPTOR_RESERVE <= 1024, `${JSON.stringify(b)} fits 1024`);
  t.ok(b.http >= 100, 'HTTP keeps a useful budget');
  const c = splitDescriptors(65_536, { mqtt: 70_000, http: 1024 });
  t.same(c, { mqtt: 65_536 - DESCRIPTOR_RESERVE - 1024, http: 1024, reduced: true });
  const tiny = splitDescriptors(100, { mqtt: 20_000, http: 1024 });
  t.ok(tiny.mqtt >= 1 && tiny.http >= 1, 'never zero');
});

t.test('parseOpenFileLimit reads the soft limit of /proc/self/limits', async (t) => {
  const text = 'Limit                     Soft Limit           Hard Limit           Units\nMax processes             63448                63448                processes\nMax open files            1024                 1048576              files\n';
  t.equal(parseOpenFileLimit(text), 1024);
  t.equal(parseOpenFileLimit(text.replace('1024 ', 'unlimited ')), undefined);
  t.equal(parseOpenFileLimit('garbage'), undefined);
});
