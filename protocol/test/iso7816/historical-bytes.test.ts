import t from 'tap';
import {
  decodeHistoricalBytes,
  encodeHistoricalBytes,
  decodeCompactTlv,
  encodeCompactTlv,
  decodeCardCapabilities,
  decodeCardServiceData,
  lifeCycleStatusName,
  decodeSscHistoricalBytes,
  encodeSscHistoricalBytes,
  type HistoricalBytes,
} from '../../src/iso7816/historical-bytes.ts';
import { ATR_ERRORS } from '../../src/iso7816/atr-error-codes.ts';
import { fromHex, toHex } from '../../src/bytes.ts';
import { ProtocolError } from '../../src/errors.ts';

const hexOf = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? toHex(x) : x));

t.test('[7816-4 §8.1.1] category 80 compact-TLV (HandlerTest card historical bytes)', async (t) => {
  const h = decodeHistoricalBytes(fromHex('80 51 00 61 10 30'));
  t.equal(h.kind, 'compact-tlv');
  if (h.kind !== 'compact-tlv') return;
  t.equal(h.category, 0x80);
  t.equal(hexOf(h.objects), '[{"tag":5,"value":"00"},{"tag":6,"value":"10"},{"tag":3,"value":""}]');
  t.equal(h.status, undefined);
  t.equal(toHex(encodeHistoricalBytes(h)), '805100611030');
});

t.test('[7816-4 §8.1.1.3] category 80 with a tag-8 status object; card capabilities', async (t) => {
  // 73 = card capabilities (3 bytes): full+partial DF name, ... ; third byte C3: chaining, extended length, 4 channels
  const h = decodeHistoricalBytes(fromHex('80 31 FE 73 C0 21 C3 82 90 00'));
  if (h.kind !== 'compact-tlv') return t.fail('kind');
  t.same(h.status, { sw: 0x9000 });
  t.equal(h.serviceData?.selectionByFullDfName, true);
  t.equal(h.serviceData?.efAccess, 'rfu');
  t.equal(h.capabilities?.selection.byFullDfName, true);
  t.equal(h.capabilities?.selection.byPartialDfName, true);
  t.equal(h.capabilities?.dataCoding, 0x21);
  t.equal(h.capabilities?.commandChaining, true);
  t.equal(h.capabilities?.extendedLength, true);
  t.equal(h.capabilities?.maxLogicalChannels, 4);
  t.same((decodeHistoricalBytes(fromHex('80 81 07')) as { status?: unknown }).status, { lcs: 7 });
  t.same((decodeHistoricalBytes(fromHex('80 83 05 62 83')) as { status?: unknown }).status, { lcs: 5, sw: 0x6283 });
});

t.test('[7816-4 §8.1.1.1] category 00: last 3 bytes are the status indicator', async (t) => {
  const h = decodeHistoricalBytes(fromHex('00 31 C0 05 90 00'));
  if (h.kind !== 'compact-tlv') return t.fail('kind');
  t.equal(h.category, 0);
  t.same(h.status, { lcs: 5, sw: 0x9000 });
  t.equal(hexOf(h.objects), '[{"tag":3,"value":"C0"}]');
  t.equal(toHex(encodeHistoricalBytes(h)), '0031C0059000');
  t.same(decodeHistoricalBytes(fromHex('00 00 90 00')), { kind: 'compact-tlv', category: 0, objects: [], status: { lcs: 0, sw: 0x9000 } });
});

t.test('[7816-4 §8.1.1.1] category 10 DIR data reference, proprietary, empty', async (t) => {
  t.equal(hexOf(decodeHistoricalBytes(fromHex('10 02'))), '{"kind":"dir-reference","category":16,"reference":"02"}');
  t.equal(hexOf(decodeHistoricalBytes(fromHex('14 50'))), '{"kind":"proprietary","category":20,"data":"50"}');
  t.same(decodeHistoricalBytes(new Uint8Array(0)), { kind: 'empty' });
  for (const hex of ['1002', '1450', '', 'FF00']) t.equal(toHex(encodeHistoricalBytes(decodeHistoricalBytes(fromHex(hex)))), hex);
});

t.test('bad historical bytes fail with the expected code', async (t) => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ['80 4F 0C A0 00 00 03 06 03 00 03 00 00 00 00', 'PROTO_ERR_ATR_COMPACT_TLV'], // PC/SC pseudo-ATR (reader-link.md §2.8)
    ['00 81 4E 43 23 86 97 15 99 00 BF 7C 7A', 'PROTO_ERR_ATR_COMPACT_TLV'], // SSC layout read as ISO
    ['00 90 00', 'PROTO_ERR_ATR_HIST_STATUS'],
    ['80 84 01 02 03 04', 'PROTO_ERR_ATR_HIST_STATUS'],
    ['81 00', 'PROTO_ERR_ATR_HIST_CATEGORY'],
    ['8F', 'PROTO_ERR_ATR_HIST_CATEGORY'],
  ];
  for (const [hex, code] of cases) t.throws(() => decodeHistoricalBytes(fromHex(hex)), { name: 'ProtocolError', code }, hex);
  t.throws(() => decodeCompactTlv(fromHex('13 01 02')), { code: 'PROTO_ERR_ATR_COMPACT_TLV' });
  try {
    decodeHistoricalBytes(fromHex('80 51 00 43 01'));
    t.fail('should throw');
  } catch (e) {
    t.ok(e instanceof ProtocolError);
    t.equal((e as ProtocolError).details['offset'], 3, 'offset is relative to the historical bytes');
  }
});

t.test('encoders reject out-of-range values', async (t) => {
  t.throws(() => encodeCompactTlv([{ tag: 16, value: new Uint8Array(0) }]), { code: 'PROTO_ERR_ATR_FIELD' });
  t.throws(() => encodeCompactTlv([{ tag: 1, value: new Uint8Array(16) }]), { code: 'PROTO_ERR_ATR_FIELD' });
  t.throws(() => encodeHistoricalBytes({ kind: 'compact-tlv', category: 0x00, objects: [] }), { code: 'PROTO_ERR_ATR_HIST_STATUS' });
  t.throws(() => encodeHistoricalBytes({ kind: 'compact-tlv', category: 0x00, objects: [], status: { lcs: 0, sw: 0x10000 } }), { code: 'PROTO_ERR_ATR_FIELD' });
  t.throws(() => encodeHistoricalBytes({ kind: 'proprietary', category: 0x80, data: new Uint8Array(0) }), { code: 'PROTO_ERR_ATR_FIELD' });
  t.throws(() => encodeHistoricalBytes({ kind: 'proprietary', category: 0x100, data: new Uint8Array(0) }), { code: 'PROTO_ERR_ATR_FIELD' });
});

t.test('compact-TLV and historical round trips', async (t) => {
  const objs = [
    { tag: 1, value: fromHex('0156') },
    { tag: 0xf, value: fromHex('A000000003') },
    { tag: 7, value: fromHex('C0') },
  ];
  const enc = encodeCompactTlv(objs);
  t.equal(toHex(enc), '1201 56'.replace(' ', '') + 'F5A000000003' + '71C0');
  t.equal(hexOf(decodeCompactTlv(enc)), hexOf(objs));
  const samples: HistoricalBytes[] = [
    { kind: 'compact-tlv', category: 0x80, objects: objs },
    { kind: 'compact-tlv', category: 0x00, objects: objs, status: { lcs: 7, sw: 0x9000 } },
    { kind: 'dir-reference', category: 0x10, reference: fromHex('0203') },
    { kind: 'proprietary', category: 0x3b, data: fromHex('01') },
  ];
  for (const h of samples) {
    const back = decodeHistoricalBytes(encodeHistoricalBytes(h));
    t.equal(toHex(encodeHistoricalBytes(back)), toHex(encodeHistoricalBytes(h)));
    t.equal(back.kind, h.kind);
  }
});

t.test('[7816-4 §8.1.1.2] card service data, capabilities, life cycle', async (t) => {
  t.same(decodeCardServiceData(0xe9), {
    selectionByFullDfName: true,
    selectionByPartialDfName: true,
    dataObjectsInEfDir: true,
    dataObjectsInEfAtr: false,
    efAccess: 'read-binary',
    withoutMf: true,
  });
  t.equal(decodeCardServiceData(0x04).efAccess, 'get-data');
  t.equal(decodeCardServiceData(0x00).efAccess, 'read-record');
  t.same(decodeCardCapabilities(fromHex('80')), {
    selection: { byFullDfName: true, byPartialDfName: false, byPath: false, byFileId: false, implicit: false, shortEfId: false, recordNumber: false, recordId: false },
  });
  t.equal(decodeCardCapabilities(fromHex('000007')).maxLogicalChannels, 8);
  t.equal(lifeCycleStatusName(0x05), 'operational state (activated)');
  t.equal(lifeCycleStatusName(0x06), 'operational state (deactivated)');
  t.equal(lifeCycleStatusName(0x0f), 'termination state');
  t.equal(lifeCycleStatusName(0x02), 'RFU');
});

t.test('[LD/T 32 P2 §8.4] SSC historical bytes layout', async (t) => {
  const hist = fromHex('00 81 4E 43 23 86 97 15 99 00 BF 7C 7A'); // SC-IF sample (ssc-card.md §4)
  const s = decodeSscHistoricalBytes(hist);
  t.equal(toHex(s.chipSupplier), '0081');
  t.equal(toHex(s.cosData), '4E4323');
  t.equal(toHex(s.cardManufacturer), '8697');
  t.equal(s.region, '1599');
  t.equal(s.regionIsBcd, true);
  t.equal(toHex(s.serial), '00BF7C7A');
  t.equal(toHex(s.dispersionFactor), '8697159900BF7C7A');
  t.equal(toHex(encodeSscHistoricalBytes(s)), toHex(hist));
  const region = encodeSscHistoricalBytes({ ...s, region: '6399' });
  t.equal(decodeSscHistoricalBytes(region).region, '6399');
  t.equal(decodeSscHistoricalBytes(encodeSscHistoricalBytes({ ...s, region: '6A99' })).regionIsBcd, false);
  for (const n of [0, 12, 14, 15]) t.throws(() => decodeSscHistoricalBytes(new Uint8Array(n)), { code: 'PROTO_ERR_ATR_SSC_LAYOUT' }, `${n} bytes`);
  t.throws(() => encodeSscHistoricalBytes({ ...s, serial: fromHex('01') }), { code: 'PROTO_ERR_ATR_FIELD' });
  t.throws(() => encodeSscHistoricalBytes({ ...s, region: '639' }), { code: 'PROTO_ERR_ATR_FIELD' });
});

t.test('bounded random historical bytes: only coded errors, decodable ones re-encode', async (t) => {
  let s = 0x1234567;
  const next = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
  const known = new Set(Object.keys(ATR_ERRORS));
  let problems = 0;
  let ok = 0;
  for (let n = 0; n < 20000; n++) {
    const bytes = new Uint8Array(Math.floor(next() * 16)).map(() => Math.floor(next() * 256));
    if (bytes.length > 0 && next() < 0.6) bytes[0] = [0x00, 0x80, 0x10][Math.floor(next() * 3)]!;
    try {
      const h = decodeHistoricalBytes(bytes);
      if (toHex(encodeHistoricalBytes(h)) !== toHex(bytes)) problems++;
      ok++;
    } catch (e) {
      if (!(e instanceof ProtocolError) || !known.has(e.code)) problems++;
    }
  }
  t.equal(problems, 0);
  t.ok(ok > 2000, `${ok} decoded and re-encoded`);
});
