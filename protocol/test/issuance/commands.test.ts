import t from 'tap';
import { fromHex, toHex } from '../../src/bytes.ts';
import * as iss from '../../src/issuance/index.ts';
import { apduHex, fuzz, rng } from '../ssc/fixtures/helpers.ts';

t.test('[P5 §6.13 table 44; issuance §2.1, §4] UPDATE RECORD by identifier and by number', async (t) => {
  const issue = fromHex('05042026120F');
  t.equal(apduHex(iss.updateRecord({ by: 'tag', tag: 5, sfi: 5 }, issue)), '00DC052806050420261' + '20F');
  t.equal(apduHex(iss.updateRecord({ by: 'number', record: 1 }, fromHex('0801' + '31'))), '00DC0104030801' + '31');
  t.equal(apduHex(iss.updateRecord({ by: 'tag', tag: 9, sfi: 6, occurrence: 'last' }, fromHex('0900'))).slice(0, 8), '00DC0931');
  t.throws(() => iss.updateRecord({ by: 'tag', tag: 5, sfi: 5 }, fromHex('0604' + '00000000')), { code: 'PROTO_ERR_ISSUANCE_PARAM' }, 'tag differs');
  t.throws(() => iss.updateRecord({ by: 'number', record: 0 }, fromHex('0100')), { code: 'PROTO_ERR_ISSUANCE_PARAM' });
  t.throws(() => iss.updateRecord({ by: 'number', record: 1, sfi: 31 }, fromHex('0100')), { code: 'PROTO_ERR_ISSUANCE_PARAM' });
  t.throws(() => iss.updateRecord({ by: 'number', record: 1 }, fromHex('010300')), { code: 'PROTO_ERR_ISSUANCE_PARAM' }, 'length byte runs past');
  t.throws(() => iss.updateRecord({ by: 'number', record: 1 }, fromHex('01')), { code: 'PROTO_ERR_ISSUANCE_PARAM' });
  t.same(iss.decodeRecordAddress(0x05, 0x28), { by: 'tag', tag: 5, sfi: 5, occurrence: 'first' });
  t.same(iss.decodeRecordAddress(0x01, 0x04), { by: 'number', record: 1, sfi: 0 });
  t.equal(iss.decodeRecordAddress(0x01, 0x05), undefined, 'reserved b3–b1');
  t.equal(iss.decodeRecordAddress(0x00, 0x04), undefined, 'record 0');
  t.equal(iss.decodeRecordAddress(0x01, 0xfc), undefined, 'SFI 31');
});

t.test('[P5 §6.12] UPDATE BINARY with SFI, by offset, and in chunks', async (t) => {
  t.equal(apduHex(iss.updateBinary(0x10, fromHex('AABB'), 8)), '00D6881002AABB');
  t.equal(apduHex(iss.updateBinary(0x0123, fromHex('AA'))), '00D6012301AA');
  const chunks = iss.updateBinaryChunks(new Uint8Array(600), 0xff);
  t.same(chunks.map((c) => [c.p1, c.p2, c.data!.length]), [[0, 0, 255], [0, 255, 255], [1, 0xfe, 90]]);
  t.throws(() => iss.updateBinary(0, new Uint8Array(0)), { code: 'PROTO_ERR_ISSUANCE_PARAM' });
  t.throws(() => iss.updateBinary(256, fromHex('00'), 8), { code: 'PROTO_ERR_ISSUANCE_PARAM' });
  t.throws(() => iss.updateBinary(0x8000, fromHex('00')), { code: 'PROTO_ERR_ISSUANCE_PARAM' });
  t.throws(() => iss.updateBinaryChunks(new Uint8Array(10), 0), { code: 'PROTO_ERR_ISSUANCE_PARAM' });
});

t.test('[issuance §4] record writes: headers of the by-identifier table, 4E always with the name', async (t) => {
  const w = iss.recordWrites({ issueDate: '20261207', expiryDate: '20361207', cardNumber: 'A12345678', ssn: '11010519491231002X', name: '张三', sex: '1', ethnicGroup: '01', birthplace: '110105', birthDate: '19491231' });
  const heads = w.map((x) => apduHex(x.apdu).slice(0, 14));
  t.same(heads, ['00DC0528060504', '00DC0628060604', '00DC07280B0709', '00DC0830140812', '00DC093020091E', '00DC4E30164E14', '00DC0A30030A01', '00DC0B30030B01', '00DC0C30050C03', '00DC0D30060D04']);
  t.equal(toHex(w.find((x) => x.tag === 0x4e)!.record), '4E14' + '00'.repeat(20));
  t.equal(toHex(w.find((x) => x.tag === 0x05)!.record), '050420261207');
  t.equal(toHex(w.find((x) => x.tag === 0x07)!.record), '0709' + toHex(new TextEncoder().encode('A12345678')));
  const all = iss.recordWrites({ cardId: '639900D15600000500BF7C7A12345678', cardType: '3', specVersion: '3.00', initOrg: '639900000001' }, ['EF05']);
  t.same(all.map((x) => apduHex(x.apdu).slice(0, 14)), ['00DC0128120110', '00DC0228030201', '00DC0328060304', '00DC04280E040C']);
  t.throws(() => iss.recordWrites({ issueDate: '20261332' }), { code: 'PROTO_ERR_SSC_DATE' });
  t.equal(toHex(iss.fillRecord(0x04)), '040C' + 'FF'.repeat(12), 'cn fill');
  t.equal(toHex(iss.fillRecord(0x09)), '091E' + '00'.repeat(30), 'an fill');
  t.throws(() => iss.fillRecord(0x77), { code: 'PROTO_ERR_SSC_ITEM_UNKNOWN' });
  t.same(iss.fileTags('EF06'), [0x08, 0x09, 0x4e, 0x0a, 0x0b, 0x0c, 0x0d]);
});

t.test('[issuance §5.3] read-back comparison', async (t) => {
  const w = iss.recordWrites({ issueDate: '20261207', cardNumber: 'A12345678' }, ['EF05']);
  const good = fromHex('050420261207' + toHex(w[1]!.record));
  t.same(iss.compareReadBack(w, good), []);
  t.same(iss.compareReadBack(w, fromHex('050420261208' + toHex(w[1]!.record))), [{ tag: 5, reason: 'differs' }]);
  t.same(iss.compareReadBack(w, fromHex('050420261207')), [{ tag: 7, reason: 'missing' }]);
  t.same(iss.compareReadBack(w, fromHex('0509')), [{ tag: 5, reason: 'missing' }, { tag: 7, reason: 'missing' }], 'malformed read');
});

t.test('bounded random bytes: decodeRecordAddress and compareReadBack never throw; updateRecord throws only coded errors', async (t) => {
  const bytes = rng(20);
  for (let i = 0; i < 5000; i++) {
    const [p1, p2] = bytes(2);
    const a = iss.decodeRecordAddress(p1!, p2!);
    if (a !== undefined && a.by === 'number') t.ok(a.record >= 1 && a.sfi < 31);
  }
  const w = iss.recordWrites({ cardNumber: 'A12345678' }, ['EF05']);
  const r1 = fuzz((b) => iss.compareReadBack(w, b), { maxLen: 64, count: 5000 });
  t.equal(r1.ok, 5000);
  const r2 = fuzz((b) => iss.updateRecord({ by: 'number', record: 1 }, b), { maxLen: 300, count: 5000, seed: 3 });
  t.ok(r2.ok > 0);
  t.same([...r2.codes], ['PROTO_ERR_ISSUANCE_PARAM']);
});

t.test('round trip: record writes decode back to the same items (random holders)', async (t) => {
  const { decodeBasicData, decodeSimpleTlvs } = await import('../../src/ssc/index.ts');
  const bytes = rng(99);
  const names = ['张三', '欧阳娜娜', '阿卜杜热合曼·买买提艾力·阿不都热依木', 'Li Lei', '王'];
  const digits = (n: number): string => Array.from(bytes(n), (b) => String(b % 10)).join('');
  for (let i = 0; i < 200; i++) {
    const b = bytes(4);
    const year = 1930 + (b[0]! % 90);
    const date = `${year}${String(1 + (b[1]! % 12)).padStart(2, '0')}${String(1 + (b[2]! % 28)).padStart(2, '0')}`;
    const items = {
      ssn: `${digits(17)}X`,
      name: names[b[3]! % names.length]!,
      sex: ['1', '2', '9'][b[0]! % 3]!,
      ethnicGroup: String(1 + (b[1]! % 56)).padStart(2, '0'),
      birthplace: digits(6),
      birthDate: date,
      issueDate: '20261207',
      expiryDate: '20361207',
      cardNumber: `A${digits(8)}`,
    };
    const w = iss.recordWrites(items);
    const back = decodeBasicData(w.flatMap((x) => decodeSimpleTlvs(x.record)));
    t.same(back, items, `holder ${i}`);
    t.same(iss.compareReadBack(w, Uint8Array.from(w.flatMap((x) => [...x.record]))), []);
  }
});
