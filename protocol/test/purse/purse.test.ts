import t from 'tap';
import * as u from '../../src/purse/index.ts';
import { concat, fromHex, toHex } from '../../src/bytes.ts';
import { apduHex, fuzz } from '../ssc/fixtures/helpers.ts';

const TERMINAL = fromHex('010203040506');
const PUBLIC = '0102030405060708' + '02' + '01' + '01234567890123456789' + '20200101' + '20301231' + '0000';

t.test('[transit-purse §1] SELECT and FCI with the public information in 9F0C', async (t) => {
  t.equal(apduHex(u.selectTUnion()), '00A4040008A000000632010105');
  t.equal(apduHex(u.selectTUnion({ le: true })), '00A4040008A00000063201010500');
  const fci = fromHex('6F31' + '8408A000000632010105' + 'A525' + '9F080102' + '9F0C1E' + PUBLIC);
  const r = u.parseTUnionFci(fci);
  t.equal(toHex(r.aid), 'A000000632010105');
  t.equal(r.applicationVersion, 2);
  t.equal(r.publicInfo?.serialHex, '01234567890123456789');
});

t.test('[transit-purse §2] public information file 0015', async (t) => {
  t.equal(apduHex(u.readPublicInfo()), '00B095001E');
  const info = u.parsePublicInfo(fromHex(PUBLIC));
  t.equal(info.issuerId, '0102030405060708');
  t.equal(info.applicationType, 2);
  t.equal(info.applicationVersion, 1);
  t.equal(info.cardNumber, '1234567890123456789', '[CODE MD] first nibble dropped');
  t.equal(toHex(info.serialRight8), '4567890123456789', 'offsets 12–19');
  t.equal(info.startDate, '20200101');
  t.equal(info.expiryDate, '20301231');
  t.equal(toHex(u.encodePublicInfo(info)), PUBLIC);
  t.throws(() => u.parsePublicInfo(fromHex(PUBLIC).subarray(0, 29)), { code: 'PROTO_ERR_PURSE_RESPONSE_LENGTH' });
  t.throws(() => u.parsePublicInfo(fromHex(PUBLIC.replace('20301231', '20301331'))), { code: 'PROTO_ERR_SSC_DATE' });
  t.throws(() => u.encodePublicInfo({ ...info, issuerId: '01' }), { code: 'PROTO_ERR_PURSE_PARAM' });
});

t.test('[PBOC-2 §5.2.8] GET BALANCE', async (t) => {
  t.equal(apduHex(u.getBalance()), '805C000204');
  t.equal(apduHex(u.getBalance('ED')), '805C000104');
  t.equal(apduHex(u.getBalance('EP', 1)), '805C010204');
  t.same(u.parseBalance(fromHex('00002710')), { raw: 10000, fen: 10000 });
  t.same(u.parseBalance(fromHex('80000064')), { raw: 0x80000064, fen: 100 }, '[CODE MD] low 31 bits');
  t.throws(() => u.getBalance('EP', 4), { code: 'PROTO_ERR_PURSE_PARAM' });
  t.throws(() => u.parseBalance(fromHex('000027')), { code: 'PROTO_ERR_PURSE_RESPONSE_LENGTH' });
});

t.test('[PBOC-2 §5.2.9] INITIALIZE FOR PURCHASE and its 15-byte response', async (t) => {
  t.equal(apduHex(u.initializeForPurchase({ keyIndex: 1, amount: 200, terminalNumber: TERMINAL })), '805001020B01000000C80102030405060F');
  t.equal(apduHex(u.initializeForPurchase({ keyIndex: 1, amount: 200, terminalNumber: TERMINAL, compound: true })).slice(0, 10), '805003020B');
  const resp = fromHex('00002710' + '0004' + '000000' + '01' + '00' + 'A1B2C3D4');
  const r = u.parseInitializeForPurchase(resp);
  t.same(r, { balance: 10000, atc: 4, overdraftLimit: 0, keyVersion: 1, algorithm: 0, cardRandom: fromHex('A1B2C3D4') });
  t.equal(toHex(u.encodeInitializeForPurchase(r)), toHex(resp));
  t.throws(() => u.initializeForPurchase({ keyIndex: 1, amount: 2 ** 32, terminalNumber: TERMINAL }), { code: 'PROTO_ERR_PURSE_PARAM' });
  t.throws(() => u.initializeForPurchase({ keyIndex: 1, amount: 1, terminalNumber: new Uint8Array(5) }), { code: 'PROTO_ERR_PURSE_PARAM' });
  t.throws(() => u.parseInitializeForPurchase(new Uint8Array(16)), { code: 'PROTO_ERR_PURSE_RESPONSE_LENGTH' });
});

t.test('[PBOC-2 §5.2.9] DEBIT FOR PURCHASE and [PBOC-2 §5.2.6] GET TRANSACTION PROVE', async (t) => {
  t.equal(apduHex(u.debitForPurchase({ terminalSerial: 0x3344, dateTime: '20100423111933', mac1: fromHex('01020304') })),
    '805401000F' + '00003344' + '20100423111933' + '01020304' + '08');
  t.same(u.parseDebitForPurchase(fromHex('AABBCCDD11223344')), { tac: fromHex('AABBCCDD'), mac2: fromHex('11223344') });
  t.equal(apduHex(u.getTransactionProve(0x06, 5)), '805A0006020005' + '08');
  t.same(u.parseTransactionProve(fromHex('11223344AABBCCDD')), { mac2: fromHex('11223344'), tac: fromHex('AABBCCDD') });
  t.throws(() => u.debitForPurchase({ terminalSerial: 1, dateTime: '2010042311193', mac1: new Uint8Array(4) }), { code: 'PROTO_ERR_SSC_DATE' });
  t.throws(() => u.debitForPurchase({ terminalSerial: 1, dateTime: '20100423111933', mac1: new Uint8Array(8) }), { code: 'PROTO_ERR_PURSE_PARAM' });
  t.throws(() => u.getTransactionProve(0x02 as 0x06, 1), { code: 'PROTO_ERR_PURSE_PARAM' });
  t.throws(() => u.parseDebitForPurchase(new Uint8Array(4)), { code: 'PROTO_ERR_PURSE_RESPONSE_LENGTH' });
  t.throws(() => u.parseTransactionProve(new Uint8Array(9)), { code: 'PROTO_ERR_PURSE_RESPONSE_LENGTH' });
});

t.test('[transit-purse §4] cyclic log record, SFI 18', async (t) => {
  t.equal(apduHex(u.readLogRecord(1)), '00B201C417');
  t.throws(() => u.readLogRecord(0), { code: 'PROTO_ERR_PURSE_PARAM' });
  t.throws(() => u.readLogRecord(11), { code: 'PROTO_ERR_PURSE_PARAM' });
  const rec = fromHex('0004' + '000000' + '000000C8' + '06' + '010203040506' + '20100423111933');
  const r = u.parseLogRecord(rec);
  t.same(r, { atc: 4, overdraftAmount: 0, amount: 200, transactionType: 6, terminalNumber: '010203040506', dateTime: '20100423111933' });
  if (r !== undefined) t.equal(toHex(u.encodeLogRecord(r)), toHex(rec));
  t.equal(u.parseLogRecord(new Uint8Array(23)), undefined, 'unused record');
  t.equal(u.parseLogRecord(new Uint8Array(23).fill(0xff)), undefined);
  t.throws(() => u.parseLogRecord(new Uint8Array(22)), { code: 'PROTO_ERR_PURSE_RESPONSE_LENGTH' });
});

t.test('[PBOC-9 §5.2.13] UPDATE CAPP DATA CACHE', async (t) => {
  t.equal(apduHex(u.updateCappDataCache(0xaa, 0x19, new Uint8Array(0x2b))).slice(0, 10), '80DCAAC82B', '[CODE ETC] example header');
  t.throws(() => u.updateCappDataCache(0xaa, 31, new Uint8Array(1)), { code: 'PROTO_ERR_PURSE_PARAM' });
  t.throws(() => u.updateCappDataCache(0xaa, 0x19, new Uint8Array(0)), { code: 'PROTO_ERR_PURSE_PARAM' });
});

t.test('[PBOC-2 app. B] MAC and session-key input layouts (C test program example)', async (t) => {
  const f = { amount: 0, transactionType: 6, terminalNumber: TERMINAL, dateTime: '20100423111933' };
  t.equal(toHex(u.mac1Input(f)), '00000000' + '06' + '010203040506' + '20100423' + '111933');
  t.equal(u.mac1Input(f).length, 18);
  t.equal(toHex(u.mac2Input(200)), '000000C8');
  t.equal(toHex(u.tacInput({ ...f, terminalSerial: 0x3344 })), '00000000' + '06' + '010203040506' + '00003344' + '20100423111933');
  t.equal(toHex(u.sessionKeyInput(fromHex('A1B2C3D4'), 4, 0x11223344)), 'A1B2C3D4' + '0004' + '3344');
  t.throws(() => u.sessionKeyInput(new Uint8Array(3), 4, 1), { code: 'PROTO_ERR_PURSE_PARAM' });
});

t.test('[P5 §7; ssc-card §13] medical purse (CLA B0)', async (t) => {
  const amounts = { accountAmount: 100, selfPayAmount: 200, pooledAmount: 300 };
  t.equal(apduHex(u.medicalInitializeForLoad(1, 1000, TERMINAL)), 'B02800010B01000003E801020304050610');
  t.equal(apduHex(u.medicalCreditForLoad('20240101120000', fromHex('01020304'))), 'B02A00000B' + '20240101120000' + '01020304' + '04');
  t.equal(apduHex(u.medicalInitializeForPurchase(1, amounts, TERMINAL)), 'B028010113' + '01' + '00000064000000C80000012C' + '010203040506' + '16');
  t.equal(apduHex(u.medicalDebitForPurchase(7, '20240101120000', fromHex('01020304'))), 'B02C01000F' + '00000007' + '20240101120000' + '01020304' + '08');
  t.equal(apduHex(u.medicalGetBalance(1)), 'B026000104');
  t.equal(apduHex(u.medicalGetBalance(3, 6)), 'B026000306');
  t.equal(apduHex(u.medicalGetTransactionProof(0x32, 9)), 'B02E0032020009' + '08');
  t.equal(apduHex(u.medicalStartingDay('get')), 'B0560100');
  t.same(u.parseMedicalInitializeForLoad(fromHex('000003E8' + '0001' + '01' + '02' + 'A1B2C3D4' + '01020304')),
    { balance: 1000, atc: 1, keyVersion: 1, algorithm: 2, cardRandom: fromHex('A1B2C3D4'), mac1: fromHex('01020304') });
  t.same(u.parseMedicalInitializeForPurchase(fromHex('000003E8' + '00000001' + '00000002' + '07E8' + '0003' + '01' + '01' + 'A1B2C3D4')),
    { balance: 1000, spip: 1, spfp: 2, paymentYear: 2024, atc: 3, keyVersion: 1, algorithm: 1, cardRandom: fromHex('A1B2C3D4') });
  t.equal(toHex(u.medicalMac1Input(amounts, 0x32, TERMINAL, '20240101120000')), '00000064000000C80000012C' + '32' + '010203040506' + '20240101120000');
  t.equal(u.medicalMac1Input(amounts, 0x32, TERMINAL, '20240101120000').length, 26, '[CODE 12.java] 26-byte MAC1 input');
  t.same(u.parseMedicalPair(fromHex('0102030405060708')).map(toHex), ['01020304', '05060708']);
  t.throws(() => u.parseMedicalTac(new Uint8Array(5)), { code: 'PROTO_ERR_PURSE_RESPONSE_LENGTH' });
  t.throws(() => u.medicalGetBalance(4 as 1), { code: 'PROTO_ERR_PURSE_PARAM' });
  t.throws(() => u.parseMedicalInitializeForPurchase(new Uint8Array(21)), { code: 'PROTO_ERR_PURSE_RESPONSE_LENGTH' });
});

t.test('random bytes: every purse parser returns or throws a coded error', async (t) => {
  const fciWrap = (b: Uint8Array) => concat(fromHex('6F'), Uint8Array.of(b.length + 10), fromHex('8408A000000632010105'), b);
  const parsers: Array<[string, (b: Uint8Array) => unknown, number, number]> = [
    ['parsePublicInfo', u.parsePublicInfo, 34, 30],
    ['parseTUnionFci', u.parseTUnionFci, 60, 40],
    ['parseTUnionFci (wrapped)', (b) => u.parseTUnionFci(fciWrap(b)), 60, 40],
    ['parseBalance', u.parseBalance, 6, 4],
    ['parseInitializeForPurchase', u.parseInitializeForPurchase, 18, 15],
    ['parseDebitForPurchase', u.parseDebitForPurchase, 10, 8],
    ['parseTransactionProve', u.parseTransactionProve, 10, 8],
    ['parseLogRecord', u.parseLogRecord, 26, 23],
    ['parseMedicalInitializeForLoad', u.parseMedicalInitializeForLoad, 20, 16],
    ['parseMedicalInitializeForPurchase', u.parseMedicalInitializeForPurchase, 25, 22],
    ['parseMedicalPair', u.parseMedicalPair, 10, 8],
    ['parseMedicalTac', u.parseMedicalTac, 6, 4],
  ];
  for (const [name, fn, maxLen, bias] of parsers) {
    const r = fuzz(fn, { count: 20000, maxLen, biasLen: bias, seed: name.length * 17 });
    t.ok(r.ok + r.codes.size > 0, name);
  }
});
