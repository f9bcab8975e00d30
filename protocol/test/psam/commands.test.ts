import t from 'tap';
import * as p from '../../src/psam/index.ts';
import { fromHex, toHex } from '../../src/bytes.ts';
import { apduHex, fuzz } from '../ssc/fixtures/helpers.ts';

const F3 = fromHex('0102030405060708');
const F2 = fromHex('3633393930307378');
const R1 = fromHex('1122334455667788');

t.test('[P9 §7.3.3] terminal number, key index and public information files', async (t) => {
  t.equal(apduHex(p.readTerminalNumber()), '00B0960006');
  t.equal(apduHex(p.readPurchaseKeyIndex()), '00B0970001');
  t.equal(apduHex(p.readPsamPublicInfo()), '00B095000F');
  t.equal(p.parseTerminalNumber(fromHex('410100813475')), '410100813475');
  t.equal(p.parsePurchaseKeyIndex(fromHex('01')), 1);
  t.throws(() => p.parseTerminalNumber(fromHex('4101008134')), { code: 'PROTO_ERR_PSAM_RESPONSE_LENGTH' });
  t.throws(() => p.parseTerminalNumber(fromHex('41010081347F')), { code: 'PROTO_ERR_SSC_BCD' });
  t.throws(() => p.parsePurchaseKeyIndex(new Uint8Array(0)), { code: 'PROTO_ERR_PSAM_RESPONSE_LENGTH' });
  const info = p.parsePsamPublicInfo(fromHex('01' + '12345678901234567890' + '02' + '03' + 'ABCD'));
  t.same(info, { issuerId: 1, serial: '12345678901234567890', version: 2, keyCardType: 3, fciData: 'ABCD' });
  t.throws(() => p.parsePsamPublicInfo(new Uint8Array(14)), { code: 'PROTO_ERR_PSAM_RESPONSE_LENGTH' });
});

t.test('[P9 §5] environments: SELECT sx1 / sx2 and the ADF', async (t) => {
  t.equal(apduHex(p.selectByName(p.PSAM_DF_NAME_SSF33)), '00A404000F7378322E73682EC9E7BBE1B1A3D5CF');
  t.equal(apduHex(p.selectByName(p.PSAM_ADF_AID)), '00A4040006D15600000590');
  t.equal(apduHex(p.selectByFid(0xdf01)), '00A4020002DF01');
  t.equal(apduHex(p.initializeEnvironment(0x63)), 'BFEC00000163');
});

t.test('[P9 §6.2, §9.7] DELIVERY SESSION KEY', async (t) => {
  t.equal(p.keyUsage(3, p.PSAM_KEY_TYPES.encrypt), 0x67);
  t.equal(p.keyUsage(2, p.PSAM_KEY_TYPES.encrypt), 0x47);
  t.equal(p.keyUsage(2, p.PSAM_KEY_TYPES.macEncrypt), 0x48);
  const F1 = fromHex('3633303030307368');
  t.equal(apduHex(p.deliverySessionKey({ usage: 0x67, keyId: p.PSAM_KEY_IDS.IRK, factors: [F3, F2, F1], sessionFactor: R1 })),
    'BFDE670820' + toHex(F3) + toHex(F2) + toHex(F1) + toHex(R1), '[ssc-card §10.1] IRK, 3 levels');
  t.equal(apduHex(p.deliverySessionKey({ usage: 0x47, keyId: p.PSAM_KEY_IDS.RKSSSE, factors: [F3, F2], sessionFactor: R1 })).slice(0, 10), 'BFDE470A18');
  t.equal(apduHex(p.deliverySessionKey({ usage: 0x47, keyId: 0x0a, factors: [F3, F2], sessionFactor: new Uint8Array(16) })).slice(0, 10), 'BFDE470A20', '16-byte family');
  t.throws(() => p.deliverySessionKey({ usage: 0x67, keyId: 8, factors: [F3, F2, F1, F1], sessionFactor: R1 }), { code: 'PROTO_ERR_PSAM_PARAM' });
  t.throws(() => p.deliverySessionKey({ usage: 0x67, keyId: 8, factors: [new Uint8Array(7)], sessionFactor: R1 }), { code: 'PROTO_ERR_PSAM_PARAM' });
  t.throws(() => p.deliverySessionKey({ usage: 0x67, keyId: 8, factors: [], sessionFactor: new Uint8Array(12) }), { code: 'PROTO_ERR_PSAM_PARAM' });
  t.throws(() => p.keyUsage(8, 7), { code: 'PROTO_ERR_PSAM_PARAM' });
});

t.test('[P9 §9.8] CIPHER DATA and result folding', async (t) => {
  t.equal(apduHex(p.cipherData('encryptLast', R1)), '80FA000008' + toHex(R1) + '00');
  t.equal(apduHex(p.cipherData('macOnly', new Uint8Array(16))).slice(0, 10), '80FA050010');
  t.equal(apduHex(p.cipherData('encryptLast', new Uint8Array(16), 16)).slice(0, 10), '80FA000010');
  t.throws(() => p.cipherData('macOnly', new Uint8Array(8)), { code: 'PROTO_ERR_PSAM_PARAM' });
  t.throws(() => p.cipherData('encryptLast', new Uint8Array(12)), { code: 'PROTO_ERR_PSAM_PARAM' });
  t.throws(() => p.cipherData('encryptLast', new Uint8Array(72)), { code: 'PROTO_ERR_PSAM_PARAM' });
  t.throws(() => p.cipherData('macOnly', new Uint8Array(16), 16), { code: 'PROTO_ERR_PSAM_PARAM' });
  t.equal(toHex(p.authDataFromCipher(R1)), toHex(R1));
  t.equal(toHex(p.authDataFromCipher(fromHex('0102030405060708F0F0F0F0F0F0F0F0'))), 'F1F2F3F4F5F6F7F8', '[ssc-card §7.6] L ⊕ R');
  t.equal(toHex(p.macFromCipher(R1)), '11223344');
  t.equal(toHex(p.macFromCipher(fromHex('01000000020000000400000008000000'))), '0F000000', '[ssc-card §7.3] fold');
  t.equal(toHex(p.macFromCipher(fromHex('AABBCCDD'))), 'AABBCCDD');
  t.throws(() => p.macFromCipher(new Uint8Array(5)), { code: 'PROTO_ERR_PSAM_RESPONSE_LENGTH' });
  t.throws(() => p.authDataFromCipher(new Uint8Array(4)), { code: 'PROTO_ERR_PSAM_RESPONSE_LENGTH' });
});

t.test('[transit-purse §6.4] transit MAC1 command, 36 bytes', async (t) => {
  const c = p.transitMac1({
    cardRandom: fromHex('A1B2C3D4'), atc: 4, amount: 100, transactionType: 6, dateTime: '20100423111933',
    keyVersion: 1, algorithm: 0, serial: fromHex('0000000000001234'), factor: fromHex('FFFFFFFFFFFFFFFF'),
  });
  t.equal(apduHex(c), '8070000024' + 'A1B2C3D4' + '0004' + '00000064' + '06' + '20100423111933' + '01' + '00' + '0000000000001234' + 'FFFFFFFFFFFFFFFF' + '08');
  t.throws(() => p.transitMac1({ cardRandom: new Uint8Array(4), atc: 0x10000, amount: 0, transactionType: 6, dateTime: '20100423111933', keyVersion: 1, algorithm: 0, serial: new Uint8Array(8), factor: new Uint8Array(8) }), { code: 'PROTO_ERR_PSAM_PARAM' });
  t.throws(() => p.transitMac1({ cardRandom: new Uint8Array(4), atc: 1, amount: 0, transactionType: 6, dateTime: '20100431111933', keyVersion: 1, algorithm: 0, serial: new Uint8Array(8), factor: new Uint8Array(8) }), { code: 'PROTO_ERR_SSC_DATE' });
  t.same(p.parseMac1(fromHex('0000334401020304')), { terminalSerial: 0x3344, mac1: fromHex('01020304') });
  t.throws(() => p.parseMac1(new Uint8Array(4)), { code: 'PROTO_ERR_PSAM_RESPONSE_LENGTH' });
  t.equal(apduHex(p.verifyMac2(fromHex('01020304'))), '807200000401020304');
  t.throws(() => p.verifyMac2(new Uint8Array(8)), { code: 'PROTO_ERR_PSAM_PARAM' });
});

t.test('[P9 §9.9.3] medical INIT SAM FOR PURCHASE, Lc 1C + 8N', async (t) => {
  const base = { cardRandom: fromHex('A1B2C3D4'), atc: 1, accountAmount: 100, selfPayAmount: 200, pooledAmount: 300, transactionType: 0x32, dateTime: '20240101120000', keyVersion: 1, algorithm: 1 };
  const c0 = p.medicalMac1({ ...base, factors: [] });
  t.equal(apduHex(c0), '807001001C' + 'A1B2C3D4' + '0001' + '00000064' + '000000C8' + '0000012C' + '32' + '20240101120000' + '0101' + '08');
  t.equal(p.medicalMac1({ ...base, factors: [F3, F2] }).data?.length, 0x2c);
  t.throws(() => p.medicalMac1({ ...base, selfPayAmount: -1, factors: [] }), { code: 'PROTO_ERR_PSAM_PARAM' });
});

t.test('[P9 §7.3; SC-IF §10.3] dispersion factors', async (t) => {
  t.equal(toHex(p.provinceFactor('639900')), toHex(new TextEncoder().encode('630000sh')));
  t.equal(toHex(p.cityFactor('639900')), toHex(new TextEncoder().encode('639900sx')));
  t.equal(toHex(p.cityFactor('330100')), toHex(new TextEncoder().encode('330100sx')));
  t.equal(toHex(p.cityFactor('331002')), toHex(new TextEncoder().encode('331000sx')), 'Zhejiang rule');
  t.equal(toHex(p.cityFactor('331002', 'p9')), toHex(new TextEncoder().encode('331002sx')));
  t.equal(toHex(p.cardFactor(fromHex('00814E43238697159900BF7C7A'))), '8697159900BF7C7A', 'T6..TD');
  t.throws(() => p.cardFactor(new Uint8Array(12)), { code: 'PROTO_ERR_PSAM_PARAM' });
  t.throws(() => p.cityFactor('63990'), { code: 'PROTO_ERR_PSAM_PARAM' });
});

t.test('[P9 §9.5–9.6] CREATE KEY / CHANGE KEY', async (t) => {
  t.equal(apduHex(p.createKey(0x11, new Uint8Array(24), fromHex('01020304'))).slice(0, 10), '84D400111C');
  t.equal(apduHex(p.changeKey(0x11, new Uint8Array(16), fromHex('01020304'))).slice(0, 10), '84D4011114');
  t.throws(() => p.createKey(0x11, new Uint8Array(16), new Uint8Array(4)), { code: 'PROTO_ERR_PSAM_PARAM' });
});

t.test('random bytes: every PSAM parser returns or throws a coded error', async (t) => {
  const parsers: Array<[string, (b: Uint8Array) => unknown, number, number]> = [
    ['parseTerminalNumber', p.parseTerminalNumber, 10, 6],
    ['parsePurchaseKeyIndex', p.parsePurchaseKeyIndex, 4, 1],
    ['parsePsamPublicInfo', p.parsePsamPublicInfo, 20, 15],
    ['parseMac1', p.parseMac1, 12, 8],
    ['authDataFromCipher', p.authDataFromCipher, 20, 16],
    ['macFromCipher', p.macFromCipher, 20, 8],
  ];
  for (const [name, fn, maxLen, bias] of parsers) {
    const r = fuzz(fn, { count: 20000, maxLen, biasLen: bias, seed: name.length });
    t.ok(r.ok > 0, name);
  }
});
