import t from 'tap';
import {
  NATIONAL_INTERFACE_ERRORS, buildCardInfo, encodeNationalString, buildReadCardBas, nationalError, nationalErrorCode, parseCardInfo, parseReadCardBas,
  type ReadCardBasInfo,
} from '../../src/ssc/national-interface.ts';
import { maskCardNumber, maskName, maskPersonalData, maskReadCardBas, maskSsn } from '../../src/ssc/mask.ts';

const SAMPLE: ReadCardBasInfo = {
  regionCode: '639900', ssn: '11010519491231002X', cardNumber: 'X00000019', cardId: '639900D15600000500BF7C7A48FB4966',
  name: '张三', resetInfo: '00814E43238697159900BF7C7A', specVersion: '1.00', issueDate: '20101001', expiryDate: '20201001',
  terminalNumber: '410100813475', deviceNumber: '终端设备号',
};
const SAMPLE_TEXT = '639900|11010519491231002X|X00000019|639900D15600000500BF7C7A48FB4966|张三|00814E43238697159900BF7C7A|1.00|20101001|20201001|410100813475|终端设备号|';

t.test('[SC-IF §1.1.2] iReadCardBas output: 11 fields each followed by |', async (t) => {
  t.equal(buildReadCardBas(SAMPLE), SAMPLE_TEXT);
  t.same(parseReadCardBas(SAMPLE_TEXT), SAMPLE);
  const noPsam = { ...SAMPLE, terminalNumber: '000000000000', deviceNumber: '' };
  t.same(parseReadCardBas(buildReadCardBas(noPsam)), noPsam);
  t.equal(buildReadCardBas(noPsam).split('|').length, 12);
});

t.test('[SC-IF §1.1.2] malformed iReadCardBas strings', async (t) => {
  t.throws(() => parseReadCardBas(SAMPLE_TEXT.slice(0, -1)), { code: 'PROTO_ERR_SSC_NATIONAL_FORMAT' });
  t.throws(() => parseReadCardBas(SAMPLE_TEXT + 'x|'), { code: 'PROTO_ERR_SSC_NATIONAL_FORMAT' });
  t.throws(() => parseReadCardBas(SAMPLE_TEXT.replace('639900|', '63990A|')), { code: 'PROTO_ERR_SSC_NATIONAL_FIELD', details: { field: 'regionCode' } });
  t.throws(() => buildReadCardBas({ ...SAMPLE, regionCode: '310000' }), { code: 'PROTO_ERR_SSC_NATIONAL_FIELD', details: { field: 'regionCode' } });
  t.throws(() => buildReadCardBas({ ...SAMPLE, cardNumber: 'X0000001' }), { code: 'PROTO_ERR_SSC_NATIONAL_FIELD', details: { field: 'cardNumber' } });
  t.throws(() => buildReadCardBas({ ...SAMPLE, cardId: 'XYZ' }), { code: 'PROTO_ERR_SSC_NATIONAL_FIELD', details: { field: 'cardId' } });
  t.throws(() => buildReadCardBas({ ...SAMPLE, name: '张|三' }), { code: 'PROTO_ERR_SSC_NATIONAL_FIELD', details: { field: 'name' } });
  t.throws(() => buildReadCardBas({ ...SAMPLE, resetInfo: '0081F' }), { code: 'PROTO_ERR_SSC_NATIONAL_FIELD', details: { field: 'resetInfo' } });
  t.throws(() => buildReadCardBas({ ...SAMPLE, issueDate: '20101301' }), { code: 'PROTO_ERR_SSC_NATIONAL_FIELD', details: { field: 'issueDate' } });
  t.throws(() => buildReadCardBas({ ...SAMPLE, terminalNumber: '4101008134' }), { code: 'PROTO_ERR_SSC_NATIONAL_FIELD', details: { field: 'terminalNumber' } });
});

t.test('[SC-IF] pCardInfo = 卡识别码|卡号|', async (t) => {
  const s = buildCardInfo({ cardId: SAMPLE.cardId, cardNumber: SAMPLE.cardNumber });
  t.equal(s, '639900D15600000500BF7C7A48FB4966|X00000019|');
  t.same(parseCardInfo(s), { cardId: SAMPLE.cardId, cardNumber: SAMPLE.cardNumber });
  t.throws(() => parseCardInfo('639900D15600000500BF7C7A48FB4966|X00000019'), { code: 'PROTO_ERR_SSC_NATIONAL_FORMAT' });
  t.throws(() => parseCardInfo('639900|X00000019|'), { code: 'PROTO_ERR_SSC_NATIONAL_FIELD' });
});

t.test('[SC-IF app. A] SW → negative decimal: −SW for every SW-derived table entry', async (t) => {
  const table: Array<[number, number]> = [
    [0x63c0, -25536], [0x63c1, -25537], [0x63c2, -25538], [0x6700, -26368], [0x6901, -26881], [0x6981, -27009],
    [0x6982, -27010], [0x6983, -27011], [0x6984, -27012], [0x6985, -27013], [0x6988, -27016], [0x6a80, -27264],
    [0x6a81, -27265], [0x6a82, -27266], [0x6a83, -27267], [0x6a88, -27272], [0x9302, -37634], [0x9303, -37635],
    [0x9403, -37891], [0x9406, -37894],
  ];
  for (const [sw, code] of table) t.equal(nationalErrorCode(sw), code, sw.toString(16));
  t.equal(nationalErrorCode(0x9000), 0);
});

t.test('[CODE SSCARD] table exceptions and the PIN context', async (t) => {
  t.equal(nationalErrorCode(0x6a86), -26370);
  t.equal(nationalErrorCode(0x6e00), -26371);
  t.equal(nationalErrorCode(0x6a87), -26369);
  t.same(nationalError(0x63c2, { pin: true }), { code: -51, text: 'PIN wrong', triesLeft: 2 });
  t.equal(nationalErrorCode(0x63c0, { pin: true }), -52);
  t.equal(nationalErrorCode(0x6983, { pin: true }), -52);
  t.equal(nationalErrorCode(0x6d00), -0x6d00, '[ONECARD] unlisted SW → −SW');
  t.equal(nationalErrorCode('NO_PSAM'), -2201);
  t.equal(nationalErrorCode('INTERNAL_AUTH_FAILED'), -21);
  t.equal(NATIONAL_INTERFACE_ERRORS.PSAM_NO_RKSSSE, -2203);
  t.throws(() => nationalErrorCode(0x10000), { code: 'PROTO_ERR_SSC_PARAM' });
});

t.test('masking personal data for logs', async (t) => {
  t.equal(maskSsn('11010519491231002X'), '110*************2X');
  t.equal(maskName('欧阳娜娜'), '欧***');
  t.equal(maskName('张'), '*');
  t.equal(maskCardNumber('X00000019'), 'X*******9');
  const m = maskPersonalData(SAMPLE);
  t.equal(m.terminalNumber, SAMPLE.terminalNumber);
  t.equal(m.cardId.slice(0, 6), '639900');
  t.notMatch(JSON.stringify(m), /1949|张三|X00000019|48FB4966|BF7C7A/);
  const line = maskReadCardBas(SAMPLE_TEXT);
  t.notMatch(line, /1949|张三|X00000019|48FB4966|BF7C7A/);
  t.equal(line.split('|').length, 12);
  t.equal(maskReadCardBas('garbage 11010519491231002X'), '***');
});

t.test('[SC-IF §1.1.2; national-interface §4.1] iReadCardBas bytes are GBK by default, UTF-8 on request', async (t) => {
  const s = '639900|000000197001010000|X00000019|639900D15600000500BF7C7A48FB4966|张三|00814E43238697159900BF7C7A|1.00|20101001|20201001|410100813475||';
  const gbk = encodeNationalString(s);
  t.ok(Buffer.from(gbk).includes(Buffer.from('|\xd5\xc5\xc8\xfd|', 'latin1')), '张三 as the GBK bytes D5C5 C8FD');
  t.equal(new TextDecoder('gbk').decode(gbk), s, 'round trip through a GBK decoder');
  t.same(encodeNationalString(s, 'gbk'), gbk);
  t.equal(new TextDecoder().decode(encodeNationalString(s, 'utf8')), s);
  t.equal(encodeNationalString(s, 'utf8').length, gbk.length + 2, 'two CJK characters: 3 bytes each in UTF-8, 2 in GBK');
  t.throws(() => encodeNationalString('😀|'), { code: 'PROTO_ERR_SSC_GBK_UNMAPPABLE' });
});
