import t from 'tap';
import * as c from '../../src/ssc/commands.ts';
import { decodeBerTlvs, decodeSimpleTlvs, encodeBerTlv, encodeSimpleTlv } from '../../src/ssc/tlv.ts';
import { fromHex, toHex } from '../../src/bytes.ts';
import { apduHex, fuzz } from './fixtures/helpers.ts';

const FCI = '6F1C840F7378312E73682EC9E7BBE1B1A3D5CFA50988011E9F0C03860103';

t.test('[P6 table 1] SELECT SSSE by DF name', async (t) => {
  t.equal(apduHex(c.selectSsse()), '00A404000F7378312E73682EC9E7BBE1B1A3D5CF');
  t.equal(apduHex(c.selectSsse({ le: true })), '00A404000F7378312E73682EC9E7BBE1B1A3D5CF00');
  t.equal(apduHex(c.selectByFid(0xef05)), '00A4020002EF05');
  t.equal(apduHex(c.selectByFid(0xef05, 0x00)), '00A4000002EF05');
  t.throws(() => c.selectByName(new Uint8Array(17)), { code: 'PROTO_ERR_SSC_PARAM' });
  t.throws(() => c.selectByFid(0x10000), { code: 'PROTO_ERR_SSC_PARAM' });
});

t.test('[P5 table 36] FCI of the SSSE: DIR SFI 1E, algorithm SM4', async (t) => {
  const fci = c.parseFci(fromHex(FCI));
  t.equal(toHex(fci.dfName), '7378312E73682EC9E7BBE1B1A3D5CF');
  t.equal(fci.dirSfi, 0x1e);
  t.equal(fci.algorithm, 3);
  t.equal(c.resolveAlgorithm(fci, '639900'), 3);
  const noAlg = c.parseFci(fromHex('6F11840F7378312E73682EC9E7BBE1B1A3D5CF'));
  t.equal(c.resolveAlgorithm(noAlg, '110000'), 2, '[SC-IF §10.1] region 11 ⇒ SSF33');
  t.equal(c.resolveAlgorithm(noAlg, '639900'), 1, '[SC-IF §10.1] else DES');
  t.throws(() => c.parseFci(fromHex('8401AA')), { code: 'PROTO_ERR_SSC_FCI' });
  t.throws(() => c.parseFci(fromHex('6F02A500')), { code: 'PROTO_ERR_SSC_FCI' });
  t.throws(() => c.parseFci(fromHex(FCI.slice(0, -2))), { code: 'PROTO_ERR_SSC_TLV_TRUNCATED' });
  t.throws(() => c.parseFci(fromHex(FCI + '00')), { code: 'PROTO_ERR_SSC_TLV_TRUNCATED' });
  t.throws(() => c.parseFci(fromHex(FCI + '8400')), { code: 'PROTO_ERR_SSC_TLV_MALFORMED' });
});

t.test('[P5 §6.9] READ RECORD by tag and by record number', async (t) => {
  const table: Array<[number, string]> = [
    [0x01, '00B2010012'], [0x03, '00B2030006'], [0x05, '00B2050006'], [0x06, '00B2060006'], [0x07, '00B207000B'],
    [0x08, '00B2080014'], [0x09, '00B2090020'], [0x4e, '00B24E0016'], [0x0a, '00B20A0003'], [0x0b, '00B20B0003'],
    [0x0c, '00B20C0005'], [0x0d, '00B20D0006'],
  ];
  for (const [tag, hex] of table) t.equal(apduHex(c.readRecordByTag(tag)), hex, hex);
  t.equal(apduHex(c.readRecordByNumber(7, { sfi: 5, le: 0x0b })), '00B2072C0B');
  t.equal(apduHex(c.readRecord(1, 'fromP1ToLast', { le: 0x40 })), '00B2010540');
  t.equal(apduHex(c.readRecordByNumber(2, { le: 0x20 })), '00B2020420');
  t.equal(apduHex(c.readRecordByTag(0x09, { occurrence: 'next', sfi: 6 })), '00B2093220');
  t.throws(() => c.readRecordByNumber(1, { sfi: 31 }), { code: 'PROTO_ERR_SSC_PARAM' });
  t.throws(() => c.readRecordByTag(0xff), { code: 'PROTO_ERR_SSC_PARAM' });
  t.throws(() => c.readRecord(1, 'recordNumber', { le: 0 }), { code: 'PROTO_ERR_SSC_PARAM' });
});

t.test('[7816-4 §7.2.3] READ BINARY with SFI and with offset', async (t) => {
  t.equal(apduHex(c.readBinary({ sfi: 0x15, le: 30 })), '00B095001E');
  t.equal(apduHex(c.readBinary({ offset: 0x0123, le: 256 })), '00B0012300');
  t.throws(() => c.readBinary({ sfi: 0, le: 1 }), { code: 'PROTO_ERR_SSC_PARAM' });
  t.throws(() => c.readBinary({ offset: 0x8000, le: 1 }), { code: 'PROTO_ERR_SSC_PARAM' });
});

t.test('[P5 §6.4–6.7] challenge, internal and external authentication, GET RESPONSE', async (t) => {
  t.equal(apduHex(c.getChallenge()), '0084000008');
  t.equal(apduHex(c.getChallenge(4)), '0084000004');
  t.equal(apduHex(c.getResponse(8)), '00C0000008');
  const r1 = fromHex('98B4D293D091C331');
  const r2 = fromHex('E603E2CAADAF02B6');
  t.equal(apduHex(c.internalAuthenticate(r1, r2)), '0088000010' + '98B4D293D091C331E603E2CAADAF02B6' + '00');
  t.equal(apduHex(c.internalAuthenticate(r1, r2, 1)), '0088000011' + '98B4D293D091C331E603E2CAADAF02B601' + '00');
  t.equal(apduHex(c.externalAuthenticate(c.SSC_KEY_IDS.RKSSSE, fromHex('774A08EDF447A1DE'), r2)), '0082000A10774A08EDF447A1DEE603E2CAADAF02B6', '[HSM-FLOW]');
  t.throws(() => c.externalAuthenticate(0x0a, new Uint8Array(7), r2), { code: 'PROTO_ERR_SSC_PARAM' });
  t.throws(() => c.internalAuthenticate(r1, new Uint8Array(9)), { code: 'PROTO_ERR_SSC_PARAM' });
  t.throws(() => c.getChallenge(5 as 4), { code: 'PROTO_ERR_SSC_PARAM' });
  t.equal(toHex(c.parseInternalAuthenticate(r1)), '98B4D293D091C331');
  t.throws(() => c.parseInternalAuthenticate(new Uint8Array(7)), { code: 'PROTO_ERR_SSC_RESPONSE_LENGTH' });
  t.equal(c.parseChallenge(new Uint8Array(4), 4).length, 4);
  t.throws(() => c.parseChallenge(new Uint8Array(4)), { code: 'PROTO_ERR_SSC_RESPONSE_LENGTH' });
});

t.test('[P5 §6.3, §6.8, §6.14] PIN commands', async (t) => {
  t.equal(apduHex(c.verifyPin('123456')), '0020000003123456', '[EGAPP-LOG]');
  t.equal(apduHex(c.verifyPin('12345')), '002000000312345F');
  t.equal(apduHex(c.verifyPin()), '00200000', 'empty probe');
  t.equal(apduHex(c.changePin('123456', '654321')), '805E010007123456FF654321');
  t.equal(apduHex(c.pinUnblock(fromHex('01020304'))), '842400000401020304');
  t.equal(apduHex(c.pinReload(new Uint8Array(16), fromHex('01020304'))), '8424000114' + '00'.repeat(16) + '01020304');
  t.equal(apduHex(c.pinReload(new Uint8Array(8), fromHex('01020304'))), '842400010C' + '00'.repeat(8) + '01020304');
  t.equal(toHex(c.pinBlockPlaintext('123456', 8)), '0312345680000000', '[ssc-card §7.9]');
  t.equal(toHex(c.pinBlockPlaintext('123456', 16)), '0312345680' + '00'.repeat(11));
  t.equal(toHex(c.pinBlockPlaintext('1234567890123456', 8)).length, 32, '16 digits → 16 bytes');
  t.equal(toHex(c.pinBlockPlaintext('12345678901234', 8)), '0712345678901234', 'aligned: no padding');
  t.equal(toHex(c.secureMessagingMacInput({ cla: 0x84, ins: 0x24, p1: 0, p2: 0 }, new Uint8Array(0), 8)), '8424000004800000');
  t.equal(c.secureMessagingMacInput({ cla: 0x84, ins: 0x24, p1: 0, p2: 1 }, new Uint8Array(16), 16).length, 32);
  t.equal(apduHex(c.applicationBlock(fromHex('01020304'))), '841E00010401020304');
  t.equal(apduHex(c.cardBlock(fromHex('01020304'))), '841600000401020304');
  t.throws(() => c.verifyPin('123'), { code: 'PROTO_ERR_SSC_PIN_FORMAT' });
  t.throws(() => c.verifyPin('12345678901234567'), { code: 'PROTO_ERR_SSC_PIN_FORMAT' });
  t.throws(() => c.changePin('12a456', '123456'), { code: 'PROTO_ERR_SSC_PIN_FORMAT' });
  t.throws(() => c.pinUnblock(new Uint8Array(3)), { code: 'PROTO_ERR_SSC_PARAM' });
  t.throws(() => c.pinReload(new Uint8Array(12), new Uint8Array(4)), { code: 'PROTO_ERR_SSC_PARAM' });
  try {
    c.verifyPin('999');
  } catch (err) {
    t.notMatch(String((err as Error).message) + JSON.stringify((err as { details?: unknown }).details), /999/, 'the PIN never appears in the error');
  }
});

t.test('[P5 §6.14] try counter status words', async (t) => {
  t.same(c.tryCounterStatus(0x9000), { kind: 'ok' });
  t.same(c.tryCounterStatus(0x63c2), { kind: 'wrong', triesLeft: 2 });
  t.same(c.tryCounterStatus(0x63c0), { kind: 'locked' });
  t.same(c.tryCounterStatus(0x6983), { kind: 'locked' });
  t.same(c.tryCounterStatus(0x6a82), { kind: 'other' });
});

t.test('[7816-4 §5.2.1] record responses', async (t) => {
  const r = c.parseRecordResponse(fromHex('0709583030303030303139'), 0x07);
  t.equal(r.tag, 7);
  t.equal(toHex(r.value), '583030303030303139');
  t.same(c.parseRecordsResponse(fromHex('0B01FF0C03FFFFFF')).map((x) => x.tag), [0x0b, 0x0c], '[CMD-DOC]');
  t.throws(() => c.parseRecordResponse(fromHex('0709583030')), { code: 'PROTO_ERR_SSC_TLV_TRUNCATED' });
  t.throws(() => c.parseRecordResponse(fromHex('0B01FF0C03FFFFFF')), { code: 'PROTO_ERR_SSC_RESPONSE_LENGTH' });
  t.throws(() => c.parseRecordResponse(fromHex('0B01FF'), 0x0c), { code: 'PROTO_ERR_SSC_ITEM_UNKNOWN' });
  t.throws(() => c.parseRecordResponse(fromHex('000100')), { code: 'PROTO_ERR_SSC_TLV_MALFORMED' });
  t.throws(() => c.parseRecordResponse(new Uint8Array(0)), { code: 'PROTO_ERR_SSC_RESPONSE_LENGTH' });
  const long = encodeSimpleTlv(0x20, new Uint8Array(300));
  t.equal(toHex(long.subarray(0, 4)), '20FF012C');
  t.equal(decodeSimpleTlvs(long)[0]?.value.length, 300);
  t.equal(toHex(encodeBerTlv(0x9f0c, fromHex('860103'))), '9F0C03860103');
  t.equal(decodeBerTlvs(encodeBerTlv(0x84, new Uint8Array(200)))[0]?.value.length, 200);
  t.throws(() => decodeBerTlvs(fromHex('8480')), { code: 'PROTO_ERR_SSC_TLV_MALFORMED' });
  t.throws(() => decodeBerTlvs(fromHex('9FFFFF7F00')), { code: 'PROTO_ERR_SSC_TLV_MALFORMED' });
});

t.test('random bytes: every SSC parser returns or throws a coded error', async (t) => {
  const fciLike = (b: Uint8Array) => Uint8Array.of(0x6f, b.length, ...b);
  const parsers: Array<[string, (b: Uint8Array) => unknown, number]> = [
    ['parseFci', (b) => c.parseFci(b), 40],
    ['parseFci (6F-wrapped)', (b) => c.parseFci(fciLike(b)), 40],
    ['parseRecordResponse', (b) => c.parseRecordResponse(b), 40],
    ['parseRecordsResponse', (b) => c.parseRecordsResponse(b), 80],
    ['parseChallenge', (b) => c.parseChallenge(b), 10],
    ['parseInternalAuthenticate', (b) => c.parseInternalAuthenticate(b), 10],
    ['decodeBerTlvs', (b) => decodeBerTlvs(b), 60],
  ];
  for (const [name, fn, maxLen] of parsers) {
    const r = fuzz(fn, { count: 20000, maxLen, seed: name.length * 31 });
    t.ok(r.ok + r.codes.size > 0, name);
  }
});
