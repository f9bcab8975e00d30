import t from 'tap';
import {
  DATA_ITEMS, ITEM_TAGS, dataItemByTag, decodeBasicData, decodeItemValue, decodeName, encodeBasicRecords,
  encodeItemRecord, encodeItemValue, encodeName, specVersionOf,
} from '../../src/ssc/data-items.ts';
import { decodeSimpleTlvs } from '../../src/ssc/tlv.ts';
import { concat, fromHex, toHex } from '../../src/bytes.ts';
import { decodeBcdDate, encodeBcdDate, encodeBcdDateTime, decodeBcdDateTime, isValidDate } from '../../src/ssc/bcd.ts';
import { fuzz } from './fixtures/helpers.ts';

t.test('[V2 tables 10–13] item table: tags, lengths, encodings, files', async (t) => {
  t.equal(DATA_ITEMS.length, 14);
  const row = (tag: number) => { const d = dataItemByTag(tag); if (d === undefined) throw new Error(String(tag)); return [d.length, d.encoding, d.file, d.padding]; };
  t.same(row(0x01), [16, 'b', 'EF05', 'none']);
  t.same(row(0x03), [4, 'an', 'EF05', '00']);
  t.same(row(0x04), [12, 'cn', 'EF05', 'F']);
  t.same(row(0x07), [9, 'an', 'EF05', '00']);
  t.same(row(0x08), [18, 'an', 'EF06', '00']);
  t.same(row(0x09), [30, 'gbk', 'EF06', '00']);
  t.same(row(0x4e), [20, 'gbk', 'EF06', '00']);
  t.same(row(0x0c), [3, 'cn', 'EF06', 'F']);
  t.same(dataItemByTag(0x4e)?.versions, ['2.0', '3.0']);
  t.equal(ITEM_TAGS.birthDate, 0x0d);
  t.equal(dataItemByTag(0x99), undefined);
});

t.test('[V2 §7] padding: cn right-padded with F, an with 00; stripped on decode', async (t) => {
  t.equal(toHex(encodeItemValue(0x0b, '1')), '1F');
  t.equal(toHex(encodeItemValue(0x0c, '6399')), '6399FF');
  t.equal(toHex(encodeItemValue(0x03, '2.0')), '322E3000');
  t.equal(toHex(encodeItemRecord(0x07, 'X00000019')), '0709583030303030303139');
  t.equal(decodeItemValue(0x03, fromHex('322E3000')), '2.0');
  t.equal(decodeItemValue(0x0c, fromHex('6399FF')), '6399');
  t.equal(decodeItemValue(0x0b, fromHex('FF')), '', '[CMD-DOC] all F = not set');
  t.equal(decodeItemValue(0x0c, fromHex('FFFFFF')), '');
  t.equal(decodeItemValue(0x0d, fromHex('FFFFFFFF')), '');
  t.equal(toHex(encodeItemValue(0x0d, '')), 'FFFFFFFF');
  t.equal(decodeItemValue(0x01, fromHex('639900D15600000500BF7C7A48FB4966')), '639900D15600000500BF7C7A48FB4966');
});

t.test('[SC-IF §10.4] card number: only the first 9 characters count', async (t) => {
  t.equal(decodeItemValue(0x07, fromHex('5830303030303031393132')), 'X00000019');
});

t.test('BCD dates YYYYMMDD with calendar validation', async (t) => {
  t.equal(toHex(encodeItemValue(0x05, '20101001')), '20101001');
  t.equal(decodeItemValue(0x06, fromHex('20201001')), '20201001');
  t.ok(isValidDate('20000229'));
  t.notOk(isValidDate('19000229'));
  t.notOk(isValidDate('20231301'));
  t.throws(() => encodeBcdDate('20230230'), { code: 'PROTO_ERR_SSC_DATE' });
  t.throws(() => decodeBcdDate(fromHex('20231301')), { code: 'PROTO_ERR_SSC_DATE' });
  t.throws(() => decodeBcdDate(fromHex('2023A101')), { code: 'PROTO_ERR_SSC_BCD' });
  t.throws(() => decodeBcdDate(fromHex('202301')), { code: 'PROTO_ERR_SSC_ITEM_LENGTH' });
  t.throws(() => decodeItemValue(0x0c, fromHex('63F9FF')), { code: 'PROTO_ERR_SSC_BCD' }, 'digit after padding');
  t.equal(decodeBcdDateTime(encodeBcdDateTime('20100423111933')), '20100423111933');
  t.throws(() => encodeBcdDateTime('20100423241933'), { code: 'PROTO_ERR_SSC_DATE' });
});

t.test('bad item values fail with codes', async (t) => {
  t.throws(() => encodeItemValue(0x99, 'x'), { code: 'PROTO_ERR_SSC_ITEM_UNKNOWN' });
  t.throws(() => encodeItemValue(0x07, 'X000000190'), { code: 'PROTO_ERR_SSC_ITEM_LENGTH' });
  t.throws(() => encodeItemValue(0x08, '身份证'), { code: 'PROTO_ERR_SSC_ITEM_CHARSET' });
  t.throws(() => encodeItemValue(0x0c, '12345a'), { code: 'PROTO_ERR_SSC_BCD' });
  t.throws(() => encodeItemValue(0x0c, '1234567'), { code: 'PROTO_ERR_SSC_BCD' });
  t.throws(() => encodeItemValue(0x01, '6399'), { code: 'PROTO_ERR_SSC_ITEM_LENGTH' });
  t.throws(() => encodeItemValue(0x01, 'zz'.repeat(16)), { code: 'PROTO_ERR_SSC_ITEM_CHARSET' });
  t.throws(() => decodeItemValue(0x08, fromHex('3101')), { code: 'PROTO_ERR_SSC_ITEM_CHARSET' });
  t.throws(() => decodeItemValue(0x0a, fromHex('3132')), { code: 'PROTO_ERR_SSC_ITEM_LENGTH' });
  t.throws(() => decodeItemValue(0x01, fromHex('6399')), { code: 'PROTO_ERR_SSC_ITEM_LENGTH' });
  t.throws(() => encodeItemValue(0x09, '张'.repeat(16)), { code: 'PROTO_ERR_SSC_ITEM_LENGTH' });
});

t.test('[SC-IF §1.1.3(7)] names: short in 09, long spills into 4E, rare characters', async (t) => {
  const short = encodeName('张三');
  t.equal(toHex(short.name), 'D5C5C8FD' + '00'.repeat(26));
  t.equal(short.extension, undefined);
  t.equal(decodeName(short.name), '张三');

  const fifteen = '阿'.repeat(15); // exactly 30 bytes: no extension
  t.equal(encodeName(fifteen).extension, undefined);
  t.equal(decodeName(encodeName(fifteen).name), fifteen);

  const long = '阿卜杜热合曼·买买提艾力江·吐尔逊托合提';
  const enc = encodeName(long);
  t.equal(enc.name.length, 30);
  t.equal(enc.extension?.length, 20);
  t.equal(decodeName(enc.name, enc.extension), long);
  // The national interface concatenates 09 ‖ 4E byte-wise, trailing 00 removed.
  const ext = enc.extension ?? new Uint8Array(0);
  t.same(concat(enc.name, ext).subarray(0, enc.name.length + ext.length), concat(enc.name, ext));

  const mixed = 'A阿卜杜热合曼·买买提艾力江·吐尔'; // splits a double-byte character at byte 30
  const m = encodeName(mixed);
  t.ok(m.extension !== undefined);
  t.equal(decodeName(m.name, m.extension), mixed);

  for (const rare of ['堃喆', '龑赟珺', '亓官禤']) t.equal(decodeName(encodeName(rare).name), rare);
  t.equal(decodeName(encodeName('张三').name, new Uint8Array(20)), '张三', 'empty 4E');
  // A name whose 09 was padded before 4E (character-boundary writer) still decodes.
  t.equal(decodeName(concat(encodeName('阿'.repeat(14)).name.subarray(0, 28), new Uint8Array(2)), concat(fromHex('B0A2'), new Uint8Array(18))), '阿'.repeat(15));

  t.throws(() => encodeName('阿'.repeat(26)), { code: 'PROTO_ERR_SSC_ITEM_LENGTH' });
  t.throws(() => encodeName('刘䶮'), { code: 'PROTO_ERR_SSC_GBK_UNMAPPABLE' });
  t.throws(() => encodeName('张\n三'), { code: 'PROTO_ERR_SSC_ITEM_CHARSET' });
  t.throws(() => decodeName(fromHex('D5')), { code: 'PROTO_ERR_SSC_GBK_MALFORMED' });
  t.throws(() => decodeName(new Uint8Array(31)), { code: 'PROTO_ERR_SSC_ITEM_LENGTH' });
});

t.test('[SC-IF §10.2] version: first 3 characters; empty means 1.0', async (t) => {
  t.equal(specVersionOf('3.00'), '3.0');
  t.equal(specVersionOf('2.01'), '2.0');
  t.equal(specVersionOf('2.0'), '2.0');
  t.equal(specVersionOf(''), '1.0');
  t.equal(specVersionOf('9.99'), undefined);
});

t.test('EF05/EF06 records: encode, read back as a whole file, decode', async (t) => {
  const data = {
    cardId: '639900D15600000500BF7C7A48FB4966', cardType: '3', specVersion: '3.00',
    initOrg: '915600000263990063990001', issueDate: '20101001', expiryDate: '20201001', cardNumber: 'X00000019',
    ssn: '11010519491231002X', name: '阿卜杜热合曼·买买提艾力江·吐尔逊托合提', sex: '1', ethnicGroup: '01', birthplace: '110105', birthDate: '19491231',
  };
  const ef05 = encodeBasicRecords(data, 'EF05');
  const ef06 = encodeBasicRecords(data, 'EF06');
  t.equal(ef05.length, 7);
  t.same(ef06.map((r) => r[0]), [0x08, 0x09, 0x4e, 0x0a, 0x0b, 0x0c, 0x0d], 'personalisation record order');
  const back = decodeBasicData([...decodeSimpleTlvs(concat(...ef05)), ...decodeSimpleTlvs(concat(...ef06))]);
  t.same(back, data);
  t.same(decodeBasicData([{ tag: 0x77, value: new Uint8Array(2) }]), {}, 'unknown tags skipped');
});

t.test('random bytes: decodeItemValue for every tag only throws coded errors and round-trips', async (t) => {
  for (const d of DATA_ITEMS) {
    const r = fuzz((b) => {
      const v = decodeItemValue(d.tag, b);
      if (d.tag === 0x09 || d.tag === 0x4e || d.tag === 0x07) return;
      if (b.length === d.length && d.encoding !== 'an') {
        const again = decodeItemValue(d.tag, encodeItemValue(d.tag, v));
        if (again !== v) throw new Error(`round trip ${d.key}`);
      }
    }, { count: 3000, maxLen: d.length + 2, biasLen: d.length, seed: d.tag + 7 });
    t.ok(r.ok + r.codes.size > 0, d.key);
  }
});
