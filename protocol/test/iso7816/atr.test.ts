import t from 'tap';
import {
  decodeAtr,
  encodeAtr,
  convertInverseConvention,
  looksLikeSscAtr,
  FI_TABLE,
  DI_TABLE,
  FMAX_MHZ_TABLE,
  type AtrFields,
  type AtrGroup,
} from '../../src/iso7816/atr.ts';
import { decodeSscHistoricalBytes } from '../../src/iso7816/historical-bytes.ts';
import { ATR_ERRORS } from '../../src/iso7816/atr-error-codes.ts';
import { fromHex, toHex } from '../../src/bytes.ts';
import { ProtocolError } from '../../src/errors.ts';

const codes = (hex: string): string[] => decodeAtr(fromHex(hex)).findings.map((f) => f.code);

/** Deterministic PRNG (xorshift32) so a failing random case can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

t.test('[7816-3 §8] HandlerTest card ATR: T=0, T=1, T=15 with TCK (reader-link.md §12)', async (t) => {
  const a = decodeAtr(fromHex('3B D6 18 00 80 B1 80 6D 1F 03 80 51 00 61 10 30 9E'), { mode: 'strict' });
  t.equal(a.valid, true);
  t.same(a.findings, []);
  t.equal(a.convention, 'direct');
  t.same(a.protocols, [0, 1, 15]);
  t.equal(a.defaultProtocol, 0);
  t.equal(a.fi, 372);
  t.equal(a.di, 12);
  t.equal(a.fmaxMHz, 5);
  t.same(a.tck, { status: 'ok', required: true, present: true, valid: true, value: 0x9e, expected: 0x9e });
  t.same(a.t1, { ifsc: 128, bwi: 6, cwi: 13, edc: 'lrc', explicit: { ifsc: true, bwi: true, edc: false } });
  t.same(a.global, { clockStop: 'not-supported', ui: 3, classes: ['A', 'B'] });
  t.equal(a.specificMode, undefined);
  t.same(a.t0, { wi: 10 });
  t.equal(toHex(a.historicalBytes), '805100611030');
  t.equal(a.historical?.kind, 'compact-tlv');
  t.same(a.fields.groups, [{ ta: 0x18, tc: 0x00, t: 0 }, { t: 1 }, { ta: 0x80, tb: 0x6d, t: 15 }, { ta: 0x03 }]);
});

t.test('[7816-3 §8.3] specific mode TA2, T=15 clock stop and classes (iClass SE, corpus)', async (t) => {
  const a = decodeAtr(fromHex('3B 90 96 91 81 B1 FE 55 1F C7 D4'), { mode: 'strict' });
  t.same(a.specificMode, { protocol: 1, canChangeMode: false, implicitParameters: false });
  t.equal(a.fi, 512);
  t.equal(a.di, 32);
  t.equal(a.fmaxMHz, 5);
  t.same(a.protocols, [1, 15]);
  t.equal(a.defaultProtocol, 1);
  t.equal(a.t0, undefined);
  t.same(a.t1, { ifsc: 254, bwi: 5, cwi: 5, edc: 'lrc', explicit: { ifsc: true, bwi: true, edc: false } });
  t.same(a.global, { clockStop: 'no-preference', ui: 7, classes: ['A', 'B', 'C'] });
  t.same(a.historical, { kind: 'empty' });
  // TA2 b5 = 1: implicit parameters; b8 = 0: the card can change mode
  const b = decodeAtr(encodeAtr({ ts: 0x3b, groups: [{ t: 0 }, { ta: 0x10 }], historicalBytes: new Uint8Array(0) }));
  t.same(b.specificMode, { protocol: 0, canChangeMode: true, implicitParameters: true });
});

t.test('[7816-3 §8.3] TC1 = FF is the minimum guard time; T=1 EDC/IFSC (Crescendo C700, corpus)', async (t) => {
  const a = decodeAtr(fromHex('3B DF 18 FF 81 31 FE 45 80 59 01 80 48 49 44 43 37 30 30 73 00 01 1B 33'), { mode: 'strict' });
  t.same(a.extraGuardTime, { n: 255, minimum: true });
  t.same(a.protocols, [1]);
  t.equal(a.t1?.ifsc, 254);
  t.equal(a.t1?.bwi, 4);
  t.equal(a.t1?.cwi, 5);
  t.equal(a.historicalBytes.length, 15);
  const crc = decodeAtr(encodeAtr({ ts: 0x3b, groups: [{ t: 1 }, { tc: 0x01 }], historicalBytes: new Uint8Array(0) }));
  t.equal(crc.t1?.edc, 'lrc', 'TC2 is not a T=1 byte (i >= 3 only)');
  const crc3 = decodeAtr(encodeAtr({ ts: 0x3b, groups: [{ t: 1 }, { t: 1 }, { tc: 0x01 }], historicalBytes: new Uint8Array(0) }));
  t.equal(crc3.t1?.edc, 'crc');
  t.equal(crc3.t1?.explicit.edc, true);
});

t.test('[7816-3 §11.4] only the first TAi/TBi/TCi after T=1 counts', async (t) => {
  const a = decodeAtr(encodeAtr({ ts: 0x3b, groups: [{ t: 1 }, { t: 1 }, { ta: 0x40, t: 1 }, { ta: 0x80, tb: 0x21, tc: 1 }], historicalBytes: new Uint8Array(0) }));
  t.equal(a.valid, true);
  t.equal(a.t1?.ifsc, 0x40);
  t.equal(a.t1?.bwi, 2);
  t.equal(a.t1?.cwi, 1);
  t.equal(a.t1?.edc, 'crc');
  const d = decodeAtr(fromHex('3B 80 01 81'));
  t.same(d.t1, { ifsc: 32, bwi: 4, cwi: 13, edc: 'lrc', explicit: { ifsc: false, bwi: false, edc: false } });
});

t.test('social security card ATR: T=0 only, no TCK, SSC historical layout (ssc-card.md §4)', async (t) => {
  const a = decodeAtr(fromHex('3B 6D 00 00 00 81 4E 43 23 86 97 15 99 00 BF 7C 7A'), { mode: 'strict' });
  t.equal(a.valid, true);
  t.same(a.protocols, [0]);
  t.same(a.tck, { status: 'absent', required: false, present: false, valid: true });
  t.same(a.fields.groups, [{ tb: 0, tc: 0 }]);
  t.equal(a.fi, 372);
  t.equal(a.di, 1);
  t.ok(looksLikeSscAtr(a));
  // the proprietary layout starts with 00, which ISO would read as category 00: only a warning
  t.same(a.findings.map((f) => [f.code, f.severity]), [['PROTO_ERR_ATR_COMPACT_TLV', 'warning']]);
  const ssc = decodeSscHistoricalBytes(a.historicalBytes);
  t.equal(ssc.region, '1599');
  t.equal(toHex(ssc.serial), '00BF7C7A');
  t.equal(toHex(ssc.dispersionFactor), '8697159900BF7C7A');
  t.notOk(looksLikeSscAtr(decodeAtr(fromHex('3B 02 14 50'))));
});

t.test('[7816-3 §8.1] inverse convention TS = 3F (SIMEMU, corpus) and wire conversion', async (t) => {
  const a = decodeAtr(fromHex('3F 28 00 00 11 14 00 03 68 90 00'), { mode: 'strict' });
  t.equal(a.convention, 'inverse');
  t.same(a.protocols, [0]);
  t.equal(a.tck.status, 'absent');
  t.equal(toHex(a.historicalBytes), '0011140003689000');
  t.equal(toHex(convertInverseConvention(fromHex('3F'))), '03');
  t.equal(toHex(convertInverseConvention(fromHex('03'))), '3F');
  const wire = convertInverseConvention(a.bytes);
  t.equal(toHex(convertInverseConvention(wire)), toHex(a.bytes));
  const raw = decodeAtr(wire);
  t.same(raw.findings.map((f) => f.code).slice(0, 1), ['PROTO_ERR_ATR_TS']);
  t.match(raw.findings[0]?.message, /inverse/);
});

t.test('[7816-3 §8.2.2] minimal ATRs and T=0 only', async (t) => {
  const a = decodeAtr(fromHex('3B00'), { mode: 'strict' });
  t.same(a.protocols, [0]);
  t.equal(a.historicalBytes.length, 0);
  t.same(a.historical, { kind: 'empty' });
  const b = decodeAtr(fromHex('3B 02 14 50'), { mode: 'strict' });
  t.equal(toHex(b.historicalBytes), '1450');
  t.equal(b.historical?.kind, 'proprietary');
});

t.test('[7816-3 §8.2.5] TCK rule: required if ANY TDi indicates T != 0 (pitfall 1)', async (t) => {
  // TD1 T=1 then TD2 T=0: still required
  const atr = encodeAtr({ ts: 0x3b, groups: [{ t: 1 }, { t: 0 }], historicalBytes: new Uint8Array(0) });
  t.equal(toHex(atr), '3B80810001');
  const a = decodeAtr(atr);
  t.equal(a.tck.required, true);
  t.equal(a.tck.status, 'ok');
  t.same(a.findings.map((f) => [f.code, f.severity]), [['PROTO_ERR_ATR_PROTOCOL_ORDER', 'warning']]);
  t.equal(a.valid, true);
  // T=15 counts as "other than T=0"
  t.equal(decodeAtr(encodeAtr({ ts: 0x3b, groups: [{ t: 0 }, { t: 15 }], historicalBytes: new Uint8Array(0) })).tck.required, true);
  t.equal(decodeAtr(fromHex('3B 80 00')).tck.required, false);
});

t.test('bad ATRs: lenient findings, strict codes', async (t) => {
  const cases: ReadonlyArray<readonly [string, string, string]> = [
    ['', 'PROTO_ERR_ATR_TRUNCATED', 'TS'],
    ['3B', 'PROTO_ERR_ATR_TRUNCATED', 'T0'],
    ['3B 10', 'PROTO_ERR_ATR_TRUNCATED', 'TA1'],
    ['3B 80 31 96', 'PROTO_ERR_ATR_TRUNCATED', 'TB2'],
    ['3B 02 01', 'PROTO_ERR_ATR_TRUNCATED', 'historical'],
    ['3A 00', 'PROTO_ERR_ATR_TS', 'TS'],
    ['03 00', 'PROTO_ERR_ATR_TS', 'TS'],
    ['3B 80 01', 'PROTO_ERR_ATR_TCK_MISSING', 'TCK'],
    ['3B 80 01 00', 'PROTO_ERR_ATR_TCK_BAD', 'TCK'],
    ['3F 80 01 00', 'PROTO_ERR_ATR_TCK_BAD', 'TCK'],
    ['3B 02 14 50 11', 'PROTO_ERR_ATR_TCK_UNEXPECTED', 'TCK'],
    ['3B 00 00 00', 'PROTO_ERR_ATR_TRAILING', 'trailing'],
    ['3B 80 01 81 00', 'PROTO_ERR_ATR_TRAILING', 'trailing'],
    ['3B 10 71', 'PROTO_ERR_ATR_FI_RFU', 'TA1'],
    ['3B 10 10', 'PROTO_ERR_ATR_DI_RFU', 'TA1'],
    ['3B 80 0F 8F', 'PROTO_ERR_ATR_T15_IN_TD1', 'TD1'],
    ['3B 80 81 11 00 10', 'PROTO_ERR_ATR_IFSC', 'TA3'],
    ['3B 80 81 11 FF EF', 'PROTO_ERR_ATR_IFSC', 'TA3'],
    ['3B 80 81 21 A0 80', 'PROTO_ERR_ATR_BWI', 'TB3'],
    ['3B 80 40 00', 'PROTO_ERR_ATR_WI', 'TC2'],
    ['3B 8F' + '80'.repeat(19) + '00' + '00'.repeat(15), 'PROTO_ERR_ATR_TOO_LONG', 'ATR'],
  ];
  for (const [hex, code, field] of cases) {
    const bytes = fromHex(hex);
    const a = decodeAtr(bytes);
    t.equal(a.valid, false, `${hex} invalid`);
    const f = a.findings.find((x) => x.severity === 'error');
    t.equal(f?.code, code, `${hex} first error ${code}`);
    t.equal(f?.field, field, `${hex} field ${field}`);
    t.throws(() => decodeAtr(bytes, { mode: 'strict' }), { name: 'ProtocolError', code }, `${hex} strict`);
  }
});

t.test('[7816-3 §8.2.5] wrong TCK: the rest is still decoded and re-encodable', async (t) => {
  const a = decodeAtr(fromHex('3B D6 18 00 80 B1 80 6D 1F 03 80 51 00 61 10 30 9F'));
  t.same(codes('3B D6 18 00 80 B1 80 6D 1F 03 80 51 00 61 10 30 9F'), ['PROTO_ERR_ATR_TCK_BAD']);
  t.same(a.tck, { status: 'bad', required: true, present: true, valid: false, value: 0x9f, expected: 0x9e });
  t.same(a.protocols, [0, 1, 15]);
  t.equal(a.t1?.ifsc, 128);
  t.equal(a.fields.tck, 0x9f);
  t.equal(toHex(encodeAtr(a.fields)), toHex(a.bytes));
  const missing = decodeAtr(fromHex('3B 80 01'));
  t.equal(missing.fields.tck, null);
  t.equal(toHex(encodeAtr(missing.fields)), '3B8001');
});

t.test('truncated ATRs keep what could be read', async (t) => {
  const a = decodeAtr(fromHex('3B D6 18 00 80 B1 80 6D'));
  t.equal(a.complete, false);
  t.equal(a.fi, 372);
  t.equal(a.di, 12);
  t.same(a.fields.groups, [{ ta: 0x18, tc: 0x00, t: 0 }, { t: 1 }, { ta: 0x80, tb: 0x6d }]);
  t.equal(a.tck.status, 'missing');
  const h = decodeAtr(fromHex('3B 06 01 02'));
  t.equal(toHex(h.historicalBytes), '0102');
  t.equal(h.historicalLength, 6);
});

t.test('[7816-3 §8.3 tables 7, 8] Fi/Di/fmax tables', async (t) => {
  t.same(FI_TABLE, [372, 372, 558, 744, 1116, 1488, 1860, null, null, 512, 768, 1024, 1536, 2048, null, null]);
  t.same(DI_TABLE, [null, 1, 2, 4, 8, 16, 32, 64, 12, 20, null, null, null, null, null, null]);
  t.equal(FMAX_MHZ_TABLE[0xa], 7.5);
  const a = decodeAtr(fromHex('3B 10 96'));
  t.equal(a.fi, 512);
  t.equal(a.di, 32);
  t.equal(a.ta1, 0x96);
  t.equal(decodeAtr(fromHex('3B 00')).ta1, 0x11);
});

t.test('encodeAtr: vectors, errors', async (t) => {
  const none = new Uint8Array(0);
  t.equal(toHex(encodeAtr({ ts: 0x3b, groups: [{}], historicalBytes: none })), '3B00');
  t.equal(
    toHex(encodeAtr({ ts: 0x3b, groups: [{ tb: 0, tc: 0 }], historicalBytes: fromHex('00814E43238697159900BF7C7A') })),
    '3B6D000000814E43238697159900BF7C7A',
  );
  t.equal(
    toHex(encodeAtr({ ts: 0x3b, groups: [{ ta: 0x18, tc: 0, t: 0 }, { t: 1 }, { ta: 0x80, tb: 0x6d, t: 15 }, { ta: 3 }], historicalBytes: fromHex('805100611030') })),
    '3BD6180080B1806D1F038051006110309E',
  );
  t.equal(toHex(encodeAtr({ ts: 0x3b, groups: [{ t: 1 }], historicalBytes: none, tck: null })), '3B8001');
  t.equal(toHex(encodeAtr({ ts: 0x3b, groups: [{}], historicalBytes: none, tck: 0x42 })), '3B0042');
  const bad: ReadonlyArray<readonly [AtrFields, string]> = [
    [{ ts: 0x3b, groups: [], historicalBytes: none }, 'PROTO_ERR_ATR_FIELD'],
    [{ ts: 0x13b, groups: [{}], historicalBytes: none }, 'PROTO_ERR_ATR_FIELD'],
    [{ ts: 0x3b, groups: [{ ta: 256 }], historicalBytes: none }, 'PROTO_ERR_ATR_FIELD'],
    [{ ts: 0x3b, groups: [{ t: 16 }], historicalBytes: none }, 'PROTO_ERR_ATR_FIELD'],
    [{ ts: 0x3b, groups: [{ ta: 0x11 }, { tb: 0 }], historicalBytes: none }, 'PROTO_ERR_ATR_FIELD'],
    [{ ts: 0x3b, groups: [{ t: 0 }, {}], historicalBytes: none }, 'PROTO_ERR_ATR_FIELD'],
    [{ ts: 0x3b, groups: [{}], historicalBytes: new Uint8Array(16) }, 'PROTO_ERR_ATR_FIELD'],
    [{ ts: 0x3b, groups: [{}], historicalBytes: none, tck: -1 }, 'PROTO_ERR_ATR_FIELD'],
    [{ ts: 0x3b, groups: [{ t: 0 }, ...Array.from({ length: 20 }, (): AtrGroup => ({ t: 0 }))], historicalBytes: new Uint8Array(15) }, 'PROTO_ERR_ATR_TOO_LONG'],
  ];
  for (const [f, code] of bad) t.throws(() => encodeAtr(f), { name: 'ProtocolError', code }, JSON.stringify(f.groups));
});

t.test('round trip: random well-formed fields → encode → decode → same fields', async (t) => {
  const r = rng(0x5eed);
  let checked = 0;
  for (let n = 0; n < 3000; n++) {
    const groups: AtrGroup[] = [];
    const count = 1 + Math.floor(r() * 5);
    for (let i = 0; i < count; i++) {
      const g: { ta?: number; tb?: number; tc?: number; t?: number } = {};
      if (r() < 0.5) g.ta = Math.floor(r() * 256);
      if (r() < 0.4) g.tb = Math.floor(r() * 256);
      if (r() < 0.4) g.tc = Math.floor(r() * 256);
      if (i < count - 1 || r() < 0.3) g.t = [0, 1, 1, 15, 14, 2][Math.floor(r() * 6)]!;
      if (i > 0 && g.ta === undefined && g.tb === undefined && g.tc === undefined && g.t === undefined) g.tc = 0;
      groups.push(g);
    }
    const fields: AtrFields = {
      ts: r() < 0.5 ? 0x3b : 0x3f,
      groups,
      historicalBytes: new Uint8Array(Math.floor(r() * 16)).map(() => Math.floor(r() * 256)),
    };
    let bytes: Uint8Array;
    try {
      bytes = encodeAtr(fields);
    } catch (e) {
      if (e instanceof ProtocolError && e.code === 'PROTO_ERR_ATR_TOO_LONG') continue;
      throw e;
    }
    const a = decodeAtr(bytes);
    checked++;
    if (!a.complete || a.tck.status === 'bad' || a.tck.status === 'missing') {
      t.fail(`encoder produced a broken ATR ${toHex(bytes)}`);
      break;
    }
    if (JSON.stringify(a.fields, hexReplacer) !== JSON.stringify(fields, hexReplacer)) {
      t.fail(`fields differ for ${toHex(bytes)}`);
      break;
    }
    if (toHex(encodeAtr(a.fields)) !== toHex(bytes)) {
      t.fail(`bytes differ for ${toHex(bytes)}`);
      break;
    }
  }
  t.ok(checked > 1500, `checked ${checked} encodable cases`);
});

t.test('bounded random bytes: lenient never throws, strict throws only ProtocolError, complete ATRs re-encode', async (t) => {
  const r = rng(0xa7a7);
  const known = new Set(Object.keys(ATR_ERRORS));
  let strictThrows = 0;
  let reencoded = 0;
  let problems = 0;
  for (let n = 0; n < 20000; n++) {
    const len = Math.floor(r() * 40);
    const bytes = new Uint8Array(len).map(() => Math.floor(r() * 256));
    if (len > 0 && r() < 0.7) bytes[0] = r() < 0.5 ? 0x3b : 0x3f;
    try {
      const a = decodeAtr(bytes);
      for (const f of a.findings) if (!known.has(f.code)) problems++;
      if (a.complete && a.bytes.length <= 33 && bytes[0] !== undefined) {
        if (toHex(encodeAtr(a.fields)) !== toHex(bytes)) problems++;
        reencoded++;
      }
    } catch {
      problems++;
    }
    try {
      decodeAtr(bytes, { mode: 'strict' });
    } catch (e) {
      if (e instanceof ProtocolError && known.has(e.code)) strictThrows++;
      else problems++;
    }
  }
  t.equal(problems, 0, 'no crash, no unknown code, no re-encoding mismatch');
  t.ok(strictThrows > 1000, `strict mode rejected ${strictThrows} inputs`);
  t.ok(reencoded > 1000, `${reencoded} complete inputs re-encoded byte for byte`);
});

function hexReplacer(_k: string, v: unknown): unknown {
  return v instanceof Uint8Array ? toHex(v) : v;
}
