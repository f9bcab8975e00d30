import t from 'tap';
import { fromHex, toHex } from '../../src/bytes.ts';
import { isProtocolError } from '../../src/errors.ts';
import type { CommandApdu } from '../../src/iso7816/apdu.ts';
import {
  commandApduCase, decodeCommandApdu, decodeResponseApdu, encodeCommandApdu, encodeResponseApdu, formatCommandApdu,
  isChainingCla, isInterindustryCla, isSecretBearingCommand, logicalChannel, secureMessaging, withChaining,
  withLogicalChannel, withSecureMessaging,
} from '../../src/iso7816/apdu.ts';

const bytes = (n: number, f = 0xa5): Uint8Array => new Uint8Array(n).fill(f);

// [7816-4 §5.1] vectors: hex, apdu, case
const vectors: ReadonlyArray<readonly [string, CommandApdu, string]> = [
  ['00A40000', { cla: 0, ins: 0xa4, p1: 0, p2: 0 }, '1'],
  ['00B2010012', { cla: 0, ins: 0xb2, p1: 1, p2: 0, le: 0x12 }, '2S'],
  ['0084000000', { cla: 0, ins: 0x84, p1: 0, p2: 0, le: 256 }, '2S'],
  ['00A404000F7378312E73682EC9E7BBE1B1A3D5CF', { cla: 0, ins: 0xa4, p1: 4, p2: 0, data: fromHex('7378312E73682EC9E7BBE1B1A3D5CF') }, '3S'],
  ['00A404000F7378312E73682EC9E7BBE1B1A3D5CF00', { cla: 0, ins: 0xa4, p1: 4, p2: 0, data: fromHex('7378312E73682EC9E7BBE1B1A3D5CF'), le: 256 }, '4S'],
  ['0088000008112233445566778808', { cla: 0, ins: 0x88, p1: 0, p2: 0, data: fromHex('1122334455667788'), le: 8 }, '4S'],
  ['00B0000000FFFF', { cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 0xffff }, '2E'],
  ['00B0000000000', { cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 65536 }, '2E'],
  ['00B0000000 0101', { cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 257 }, '2E'],
];

t.test('[7816-4 §5.1] command APDU vectors decode and encode', async (t) => {
  for (const [hex, apdu, c] of vectors) {
    const clean = hex.replace(/\s/g, '').length % 2 ? hex + '0' : hex;
    const b = fromHex(clean);
    const d = decodeCommandApdu(b);
    t.equal(d.case, c, `${hex} case`);
    t.same({ ...d, case: undefined }, { ...apdu, case: undefined }, `${hex} decode`);
    t.equal(toHex(encodeCommandApdu(apdu)), toHex(b), `${hex} encode`);
    t.equal(commandApduCase(apdu), c);
  }
});

t.test('[7816-4 §5.1] extended cases 3E and 4E', async (t) => {
  const data = bytes(300);
  const e3 = encodeCommandApdu({ cla: 0, ins: 0xd6, p1: 0, p2: 0, data });
  t.equal(toHex(e3.subarray(0, 7)), '00D6000000012C');
  t.equal(e3.length, 7 + 300);
  t.equal(decodeCommandApdu(e3).case, '3E');
  const e4 = encodeCommandApdu({ cla: 0, ins: 0xd6, p1: 0, p2: 0, data, le: 65536 });
  t.equal(toHex(e4.subarray(e4.length - 2)), '0000');
  const d4 = decodeCommandApdu(e4);
  t.equal(d4.case, '4E');
  t.equal(d4.le, 65536);
  t.same(d4.data, data);
  // forced extended with small fields
  const f = encodeCommandApdu({ cla: 0, ins: 0xca, p1: 0, p2: 0, data: fromHex('01'), le: 2 }, 'extended');
  t.equal(toHex(f), '00CA000000000101' + '0002');
  t.same(decodeCommandApdu(f), { cla: 0, ins: 0xca, p1: 0, p2: 0, data: fromHex('01'), le: 2, case: '4E' });
  t.equal(commandApduCase({ cla: 0, ins: 0, p1: 0, p2: 0, le: 5 }, 'extended'), '2E');
});

t.test('[7816-3 §12.1.3] malformed command APDUs fail with codes', async (t) => {
  const bad: ReadonlyArray<readonly [string, string]> = [
    ['', 'PROTO_ERR_APDU_TOO_SHORT'],
    ['00A400', 'PROTO_ERR_APDU_TOO_SHORT'],
    ['FFA40000', 'PROTO_ERR_APDU_FIELD'],
    ['00A4040005AABB', 'PROTO_ERR_APDU_LC_MISMATCH'],
    ['00A4040002AABB0000', 'PROTO_ERR_APDU_TRAILING'],
    ['00A404000000', 'PROTO_ERR_APDU_LENGTH'], // 00 + one byte
    ['00A40400000000AA', 'PROTO_ERR_APDU_LENGTH'], // extended Lc 0000
    ['00A4040000000301', 'PROTO_ERR_APDU_LC_MISMATCH'],
    ['00A40400000002AABB01', 'PROTO_ERR_APDU_LENGTH'], // extended Lc, short Le (mix)
    ['00A40400000002AABB000000', 'PROTO_ERR_APDU_TRAILING'],
  ];
  for (const [hex, code] of bad) t.throws(() => decodeCommandApdu(fromHex(hex)), { code }, hex);
});

t.test('[7816-4 §5.1] encode rejects bad fields with codes', async (t) => {
  const h = { cla: 0, ins: 0xb0, p1: 0, p2: 0 };
  t.throws(() => encodeCommandApdu({ ...h, le: 0 }), { code: 'PROTO_ERR_APDU_LE_RANGE' });
  t.throws(() => encodeCommandApdu({ ...h, le: 65537 }), { code: 'PROTO_ERR_APDU_LE_RANGE' });
  t.throws(() => encodeCommandApdu({ ...h, le: 1.5 }), { code: 'PROTO_ERR_APDU_LE_RANGE' });
  t.throws(() => encodeCommandApdu({ ...h, le: 257 }, 'short'), { code: 'PROTO_ERR_APDU_LE_RANGE' });
  t.throws(() => encodeCommandApdu({ ...h, data: bytes(256) }, 'short'), { code: 'PROTO_ERR_APDU_DATA_LENGTH' });
  t.throws(() => encodeCommandApdu({ ...h, data: bytes(65536) }), { code: 'PROTO_ERR_APDU_DATA_LENGTH' });
  t.throws(() => encodeCommandApdu(h, 'extended'), { code: 'PROTO_ERR_APDU_DATA_LENGTH' });
  t.throws(() => encodeCommandApdu({ ...h, cla: 0xff }), { code: 'PROTO_ERR_APDU_FIELD' });
  t.throws(() => encodeCommandApdu({ ...h, ins: 256 }), { code: 'PROTO_ERR_APDU_FIELD' });
  t.throws(() => encodeCommandApdu({ ...h, p1: -1 }), { code: 'PROTO_ERR_APDU_FIELD' });
  // empty data is "no data"
  t.equal(toHex(encodeCommandApdu({ ...h, data: new Uint8Array(0), le: 4 })), '00B0000004');
});

t.test('[7816-4 §5.1] random command APDUs round-trip', async (t) => {
  let seed = 12345;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
  for (let i = 0; i < 3000; i++) {
    const nc = [0, 1 + rnd(255), 256 + rnd(600)][rnd(3)]!;
    const le = [undefined, 1 + rnd(256), 1 + rnd(65536)][rnd(3)];
    const apdu: CommandApdu = { cla: rnd(255), ins: rnd(256), p1: rnd(256), p2: rnd(256), ...(nc > 0 ? { data: bytes(nc, rnd(256)) } : {}), ...(le !== undefined ? { le } : {}) };
    const enc = encodeCommandApdu(apdu);
    const dec = decodeCommandApdu(enc);
    t.same({ ...dec, case: undefined }, { ...apdu, case: undefined });
    if (t.passing() === false) break;
    t.equal(toHex(encodeCommandApdu(dec, dec.case.endsWith('E') ? 'extended' : 'short')), toHex(enc));
  }
});

t.test('[7816-4 §5.1] 20k random byte strings: decode succeeds or fails with a code', async (t) => {
  let seed = 99;
  const rnd = (n: number): number => { seed = (seed * 1664525 + 1013904223) >>> 0; return seed % n; };
  let ok = 0, coded = 0;
  for (let i = 0; i < 20000; i++) {
    const len = rnd(12);
    const b = new Uint8Array(len);
    for (let j = 0; j < len; j++) b[j] = rnd(4) === 0 ? 0 : rnd(256);
    try {
      const d = decodeCommandApdu(b);
      ok++;
      // anything decoded must re-encode to the same bytes
      if (toHex(encodeCommandApdu(d, d.case.endsWith('E') ? 'extended' : 'short')) !== toHex(b)) t.fail(`re-encode ${toHex(b)}`);
    } catch (e) {
      if (!isProtocolError(e)) throw e;
      coded++;
    }
  }
  t.ok(ok > 0 && coded > 0, `${ok} decoded, ${coded} coded errors`);
});

t.test('[7816-4 §5.1] response APDUs', async (t) => {
  const r = decodeResponseApdu(fromHex('0102039000'));
  t.same(r, { data: fromHex('010203'), sw1: 0x90, sw2: 0, sw: 0x9000 });
  t.same(decodeResponseApdu(fromHex('6A82')), { data: new Uint8Array(0), sw1: 0x6a, sw2: 0x82, sw: 0x6a82 });
  t.throws(() => decodeResponseApdu(fromHex('90')), { code: 'PROTO_ERR_RAPDU_TOO_SHORT' });
  t.throws(() => decodeResponseApdu(new Uint8Array(0)), { code: 'PROTO_ERR_RAPDU_TOO_SHORT' });
  t.equal(toHex(encodeResponseApdu({ data: fromHex('AA'), sw: 0x6108 })), 'AA6108');
  t.equal(toHex(encodeResponseApdu(r)), '0102039000');
  t.throws(() => encodeResponseApdu({ sw: 0x10000 }), { code: 'PROTO_ERR_SW_RANGE' });
});

t.test('[7816-4 §5.1.1] class byte helpers', async (t) => {
  t.equal(logicalChannel(0x00), 0);
  t.equal(logicalChannel(0x03), 3);
  t.equal(logicalChannel(0x0b), 3);
  t.equal(logicalChannel(0x40), 4);
  t.equal(logicalChannel(0x4f), 19);
  t.equal(logicalChannel(0x61), 5);
  t.throws(() => logicalChannel(0xff), { code: 'PROTO_ERR_APDU_FIELD' });
  t.equal(withLogicalChannel(0x00, 2), 0x02);
  t.equal(withLogicalChannel(0x0c, 1), 0x0d);
  t.equal(withLogicalChannel(0x10, 5), 0x51);
  t.equal(withLogicalChannel(0x08, 19), 0x6f);
  t.equal(withLogicalChannel(0x41, 0), 0x00);
  t.equal(withLogicalChannel(0x61, 1), 0x09);
  t.equal(withLogicalChannel(0x80, 1), 0x81);
  t.throws(() => withLogicalChannel(0x80, 4), { code: 'PROTO_ERR_APDU_CLA' });
  t.throws(() => withLogicalChannel(0x0c, 4), { code: 'PROTO_ERR_APDU_CLA' });
  t.throws(() => withLogicalChannel(0x00, 20), { code: 'PROTO_ERR_APDU_CLA' });
  t.equal(isChainingCla(0x10), true);
  t.equal(isChainingCla(0x00), false);
  t.equal(withChaining(0x80, true), 0x90);
  t.equal(withChaining(0x91, false), 0x81);
  t.equal(secureMessaging(0x84), 'proprietary');
  t.equal(secureMessaging(0x8c), 'sm-header-authenticated');
  t.equal(secureMessaging(0x00), 'none');
  t.equal(secureMessaging(0x08), 'sm-header-not-authenticated');
  t.equal(secureMessaging(0x0c), 'sm-header-authenticated');
  t.equal(secureMessaging(0x60), 'sm-header-not-authenticated');
  t.equal(withSecureMessaging(0x80, 'proprietary'), 0x84);
  t.equal(withSecureMessaging(0x41, 'sm-header-not-authenticated'), 0x61);
  t.equal(withSecureMessaging(0x61, 'none'), 0x41);
  t.throws(() => withSecureMessaging(0x41, 'sm-header-authenticated'), { code: 'PROTO_ERR_APDU_CLA' });
  t.equal(isInterindustryCla(0x7f), true);
  t.equal(isInterindustryCla(0x80), false);
  // round trip over every valid CLA and channel expressible
  for (let cla = 0; cla < 0x80; cla++) {
    const ch = logicalChannel(cla);
    t.equal(withLogicalChannel(cla, ch), cla, `CLA ${cla.toString(16)} unchanged`);
  }
});

t.test('[reader-link §6.7] trace redaction of secret-bearing commands', async (t) => {
  const verify = { cla: 0, ins: 0x20, p1: 0, p2: 0, data: fromHex('123456') };
  t.equal(isSecretBearingCommand(verify), true);
  t.equal(formatCommandApdu(verify), '00 20 00 00 Lc=3 <redacted 3 bytes>');
  t.notMatch(formatCommandApdu(verify), /123456/);
  t.equal(formatCommandApdu(verify, { unsafe: true }), '00 20 00 00 Lc=3 123456');
  for (const ins of [0x24, 0x2c, 0x5e, 0x82, 0xd4]) t.notMatch(formatCommandApdu({ ...verify, ins }), /123456/);
  t.notMatch(formatCommandApdu({ ...verify, cla: 0x80, ins: 0xfa }), /123456/, 'PSAM CIPHER DATA carries PIN blocks');
  t.equal(isSecretBearingCommand({ cla: 0x00, ins: 0xfa }), false, 'FA outside the proprietary class is not CIPHER DATA');
  t.equal(formatCommandApdu({ cla: 0, ins: 0xb2, p1: 1, p2: 0, le: 18 }), '00 B2 01 00 Le=18');
  t.equal(formatCommandApdu({ cla: 0, ins: 0xa4, p1: 2, p2: 0, data: fromHex('EF05') }), '00 A4 02 00 Lc=2 EF05');
});
