import t from 'tap';
import { fromHex, toHex } from '../../src/bytes.ts';
import { ProtocolError } from '../../src/errors.ts';
import {
  PCSC_LIMITS, PCSC_PROTOCOL_VERSION, PcscResponseReader, SCARD, SCARD_RV, decodeReaderStates, decodeRequest, decodeResponse, encodeRequest, encodeResponse, scardRvName,
  type PcscRequest, type PcscResponse, type PcscResponseKind,
} from '../../src/pcsc/index.ts';
import { mulberry32 as rng } from '../support/prng.ts';

const le = (n: number): string => toHex(Uint8Array.of(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff));
const nameField = (s: string): string => (toHex(new TextEncoder().encode(s)) + '00'.repeat(128)).slice(0, 256);

t.test('[winscard_msg.h] request vectors: header size ‖ command, then the structure (little-endian)', async (t) => {
  t.equal(toHex(encodeRequest({ command: 'version', major: 4, minor: 4 })), le(12) + le(0x11) + le(4) + le(4) + le(0));
  t.equal(toHex(encodeRequest({ command: 'establish-context', scope: SCARD.SCOPE_SYSTEM })), le(12) + le(1) + le(2) + le(0) + le(0));
  t.equal(toHex(encodeRequest({ command: 'get-readers-state' })), le(0) + le(0x12));
  t.equal(toHex(encodeRequest({ command: 'wait-reader-state-change' })), le(0) + le(0x13));
  const connect = encodeRequest({ command: 'connect', context: 0x1234, reader: 'OneCard sim 00 00', shareMode: SCARD.SHARE_SHARED, preferredProtocols: SCARD.PROTOCOL_ANY });
  t.equal(connect.length, 8 + 152, 'connect_struct is 152 bytes');
  t.equal(toHex(connect), le(152) + le(4) + le(0x1234) + nameField('OneCard sim 00 00') + le(2) + le(3) + le(0) + le(0) + le(0));
  t.equal(toHex(encodeRequest({ command: 'disconnect', card: -2, disposition: SCARD.RESET_CARD })), le(12) + le(6) + 'FEFFFFFF' + le(1) + le(0), 'hCard is signed');
  const tx = encodeRequest({ command: 'transmit', card: 7, protocol: SCARD.PROTOCOL_T1, apdu: fromHex('00A4040000'), receiveLength: PCSC_LIMITS.MAX_BUFFER_SIZE_EXTENDED });
  t.equal(toHex(tx), le(32) + le(9) + le(7) + le(2) + le(16) + le(5) + le(3) + le(16) + le(65548) + le(0) + '00A4040000', 'TRANSMIT: the header size excludes the APDU');
});

t.test('[eventhandler.h READER_STATE] the reader-state table: 16 entries of 184 bytes', async (t) => {
  t.equal(PCSC_LIMITS.READER_STATES_LENGTH, 2944);
  const table = new Uint8Array(2944);
  const atr = fromHex('3B6800000073C84013009000');
  table.set(new TextEncoder().encode('Gemalto GemPC Twin 00 00'), 184);
  const v = new DataView(table.buffer);
  v.setUint32(184 + 128, 3, true);
  v.setUint32(184 + 132, SCARD.PRESENT | SCARD.POWERED | SCARD.NEGOTIABLE, true);
  v.setInt32(184 + 136, -1, true);
  table.set(atr, 184 + 140);
  v.setUint32(184 + 176, atr.length, true);
  v.setUint32(184 + 180, SCARD.PROTOCOL_T0, true);
  const readers = decodeReaderStates(table);
  t.same(readers, [{ index: 1, name: 'Gemalto GemPC Twin 00 00', eventCounter: 3, state: 0x34, sharing: -1, atr, protocol: 1 }], 'unused entries left out');
  t.same(toHex(encodeResponse({ kind: 'readers-state', readers })), toHex(table), 'encodes back to the same bytes');
  v.setUint32(184 + 176, PCSC_LIMITS.MAX_ATR_SIZE + 1, true);
  t.same(decodeReaderStates(table)[0]?.atr, new Uint8Array(0), 'READER_NOT_INITIALIZED (34) means no ATR yet');
});

const requests: PcscRequest[] = [
  { command: 'version', major: 4, minor: 4 },
  { command: 'establish-context', scope: 2 },
  { command: 'release-context', context: 0xfedcba98 },
  { command: 'connect', context: 1, reader: '读卡器 Gemalto 00 01', shareMode: 1, preferredProtocols: 3 },
  { command: 'reconnect', card: 5, shareMode: 2, preferredProtocols: 2, initialization: SCARD.RESET_CARD },
  { command: 'disconnect', card: 5, disposition: 0 },
  { command: 'begin-transaction', card: -5 },
  { command: 'end-transaction', card: 5, disposition: 1 },
  { command: 'status', card: 5 },
  { command: 'cancel', context: 9 },
  { command: 'transmit', card: 1, protocol: 1, apdu: Uint8Array.from({ length: 300 }, (_, i) => i & 0xff), receiveLength: 258 },
  { command: 'get-readers-state' },
  { command: 'wait-reader-state-change' },
  { command: 'stop-waiting-reader-state-change' },
];

const responses: PcscResponse[] = [
  { kind: 'version', major: 4, minor: 4, rv: 0 },
  { kind: 'establish-context', scope: 2, context: 0x8000_0001, rv: 0 },
  { kind: 'release-context', context: 3, rv: SCARD_RV.E_INVALID_HANDLE },
  { kind: 'connect', context: 1, reader: 'r 00 00', shareMode: 2, preferredProtocols: 3, card: -12345, activeProtocol: 2, rv: 0 },
  { kind: 'reconnect', card: 4, shareMode: 2, preferredProtocols: 3, initialization: 1, activeProtocol: 1, rv: 0 },
  { kind: 'disconnect', card: 4, disposition: 0, rv: 0 },
  { kind: 'begin-transaction', card: 4, rv: SCARD_RV.E_SHARING_VIOLATION },
  { kind: 'end-transaction', card: 4, disposition: 0, rv: 0 },
  { kind: 'status', card: 4, rv: SCARD_RV.W_REMOVED_CARD },
  { kind: 'cancel', context: 4, rv: 0 },
  { kind: 'transmit', card: 4, protocol: 1, receiveProtocol: 1, receiveLength: 3, rv: 0, apdu: fromHex('019000') },
  { kind: 'transmit', card: 4, protocol: 1, receiveProtocol: 3, receiveLength: 65548, rv: SCARD_RV.W_REMOVED_CARD, apdu: new Uint8Array(0) },
  { kind: 'readers-state', readers: [{ index: 0, name: 'a 00 00', eventCounter: 1, state: SCARD.ABSENT, sharing: 0, atr: new Uint8Array(0), protocol: 0 }, { index: 15, name: 'b 00 01', eventCounter: 0xffffffff, state: SCARD.PRESENT, sharing: 2, atr: new Uint8Array(33).fill(0x3b), protocol: 2 }] },
  { kind: 'wait-end', rv: 0 },
];

t.test('round trips: decode(encode(x)) = x for every request and answer; encode(decode(b)) = b', async (t) => {
  for (const r of requests) {
    const bytes = encodeRequest(r);
    const d = decodeRequest(bytes);
    t.same(d, { request: r, length: bytes.length }, r.command);
    t.equal(toHex(encodeRequest(d!.request)), toHex(bytes));
    for (let n = 0; n < bytes.length; n += Math.max(1, Math.floor(bytes.length / 7))) t.equal(decodeRequest(bytes.subarray(0, n)), undefined, `${r.command}: ${n} bytes need more`);
  }
  for (const r of responses) {
    const bytes = encodeResponse(r);
    const d = decodeResponse(r.kind, bytes);
    t.same(d, { response: r, length: bytes.length }, r.kind);
    t.equal(toHex(encodeResponse(d!.response)), toHex(bytes));
    t.equal(decodeResponse(r.kind, bytes.subarray(0, bytes.length - 1)), undefined, `${r.kind}: one byte short needs more`);
  }
});

t.test('the answer reader splits a stream at any boundary, in the expected order', async (t) => {
  const kinds: PcscResponseKind[] = responses.map((r) => r.kind);
  const stream = Uint8Array.from(responses.flatMap((r) => [...encodeResponse(r)]));
  const random = rng(7);
  for (let run = 0; run < 20; run++) {
    const reader = new PcscResponseReader();
    for (const k of kinds) reader.expect(k);
    const got: PcscResponse[] = [];
    for (let o = 0; o < stream.length;) {
      const n = 1 + Math.floor(random() * (run === 0 ? 1 : 600));
      got.push(...reader.push(stream.subarray(o, o + n)));
      o += n;
    }
    t.same(got, responses, `run ${run}`);
    t.equal(reader.pending, 0);
  }
  const reader = new PcscResponseReader();
  t.throws(() => reader.push(Uint8Array.of(1)), { code: 'PROTO_ERR_PCSC_TRAILING' }, 'bytes nobody waits for');
});

t.test('bad input fails with the field named', async (t) => {
  const hdr = (size: number, cmd: number): Uint8Array => fromHex(le(size) + le(cmd));
  t.throws(() => decodeRequest(hdr(0, 0x03)), { code: 'PROTO_ERR_PCSC_COMMAND' }, 'LIST_READERS is not a protocol-4 request');
  t.throws(() => decodeRequest(hdr(0, 0x99)), { code: 'PROTO_ERR_PCSC_COMMAND' });
  t.throws(() => decodeRequest(hdr(8, 0x11)), { code: 'PROTO_ERR_PCSC_SIZE', details: { field: 'size' } });
  const tx = encodeRequest({ command: 'transmit', card: 1, protocol: 1, apdu: fromHex('00B0000000'), receiveLength: 258 });
  new DataView(tx.buffer).setUint32(8 + 12, 65549, true);
  t.throws(() => decodeRequest(tx), { code: 'PROTO_ERR_PCSC_LENGTH', details: { field: 'sendLength' } });
  const connect = encodeRequest({ command: 'connect', context: 1, reader: 'x', shareMode: 2, preferredProtocols: 3 });
  connect.fill(0x41, 12, 12 + 128);
  t.throws(() => decodeRequest(connect), { code: 'PROTO_ERR_PCSC_STRING', details: { field: 'reader' } }, 'name without NUL');
  connect.fill(0, 12, 12 + 128);
  t.throws(() => decodeRequest(connect), { code: 'PROTO_ERR_PCSC_STRING' }, 'empty name');
  t.throws(() => encodeRequest({ command: 'connect', context: 1, reader: 'x'.repeat(128), shareMode: 2, preferredProtocols: 3 }), { code: 'PROTO_ERR_PCSC_STRING' });
  t.throws(() => encodeRequest({ command: 'connect', context: 1, reader: '', shareMode: 2, preferredProtocols: 3 }), { code: 'PROTO_ERR_PCSC_STRING' });
  t.throws(() => encodeRequest({ command: 'establish-context', scope: -1 }), { code: 'PROTO_ERR_PCSC_FIELD', details: { field: 'scope' } });
  t.throws(() => encodeRequest({ command: 'transmit', card: 1, protocol: 1, apdu: new Uint8Array(0), receiveLength: 258 }), { code: 'PROTO_ERR_PCSC_LENGTH' });
  t.throws(() => encodeRequest({ command: 'transmit', card: 1, protocol: 1, apdu: new Uint8Array(65549), receiveLength: 258 }), { code: 'PROTO_ERR_PCSC_LENGTH' });
  const badTx = encodeResponse({ kind: 'transmit', card: 1, protocol: 1, receiveProtocol: 1, receiveLength: 2, rv: 0, apdu: fromHex('9000') });
  new DataView(badTx.buffer).setUint32(24, 70000, true);
  t.throws(() => decodeResponse('transmit', badTx), { code: 'PROTO_ERR_PCSC_LENGTH', details: { field: 'receiveLength' } });
  const table = new Uint8Array(2944);
  table[0] = 0x41;
  table.fill(0x41, 0, 128);
  t.throws(() => decodeReaderStates(table), { code: 'PROTO_ERR_PCSC_STRING', details: { field: 'readers[0].name' } });
  table.fill(0, 1, 128);
  new DataView(table.buffer).setUint32(176, 35, true);
  t.throws(() => decodeReaderStates(table), { code: 'PROTO_ERR_PCSC_LENGTH', details: { field: 'readers[0].atrLength' } });
  t.throws(() => decodeReaderStates(new Uint8Array(2945)), { code: 'PROTO_ERR_PCSC_SIZE' });
  t.throws(() => encodeResponse({ kind: 'readers-state', readers: [{ index: 16, name: 'a', eventCounter: 0, state: 0, sharing: 0, atr: new Uint8Array(0), protocol: 0 }] }), { code: 'PROTO_ERR_PCSC_FIELD' });
});

t.test('protocol version and return-value names', async (t) => {
  t.same({ ...PCSC_PROTOCOL_VERSION }, { major: 4, minor: 4 }, 'pcsc-lite 1.9.9 speaks 4.4');
  t.equal(scardRvName(SCARD_RV.E_NO_SMARTCARD), 'SCARD_E_NO_SMARTCARD');
  t.equal(scardRvName(0x80100099), '0x80100099');
  t.equal(scardRvName(-2146434967), 'SCARD_W_REMOVED_CARD', 'a signed LONG maps too');
});

t.test('bounded random bytes: every decoder returns, asks for more or throws a coded ProtocolError', async (t) => {
  const random = rng(0x9c5c);
  const kinds: PcscResponseKind[] = ['version', 'establish-context', 'release-context', 'connect', 'reconnect', 'disconnect', 'begin-transaction', 'end-transaction', 'status', 'cancel', 'transmit', 'readers-state', 'wait-end'];
  let decoded = 0;
  for (let i = 0; i < 3000; i++) {
    const n = Math.floor(random() * (i % 10 === 0 ? 3200 : 200));
    const b = Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
    // bias the header toward real commands so deeper paths are reached
    if (n >= 8 && i % 2 === 0) {
      const cmds = [1, 2, 4, 5, 6, 7, 8, 9, 0x0b, 0x0d, 0x11, 0x12, 0x13, 0x14];
      const cmd = cmds[i % cmds.length]!;
      const size = ({ 1: 12, 2: 8, 4: 152, 5: 24, 6: 12, 7: 8, 8: 12, 9: 32, 0x0b: 8, 0x0d: 8, 0x11: 12, 0x12: 0, 0x13: 0, 0x14: 0 } as Record<number, number>)[cmd]!;
      new DataView(b.buffer).setUint32(0, size, true);
      new DataView(b.buffer).setUint32(4, cmd, true);
    }
    for (const f of [() => decodeRequest(b), () => decodeResponse(kinds[i % kinds.length]!, b), () => (b.length === 2944 ? decodeReaderStates(b) : undefined)]) {
      try {
        if (f() !== undefined) decoded++;
      } catch (e) {
        if (!(e instanceof ProtocolError) || !e.code.startsWith('PROTO_ERR_PCSC_')) throw e;
      }
    }
  }
  t.ok(decoded > 100, `${decoded} random inputs decoded to a message`);
});
