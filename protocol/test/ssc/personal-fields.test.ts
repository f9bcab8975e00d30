/**
 * The one personal-data table and the one secret-bearing instruction list: record masking covers
 * every field of the table, masking is idempotent (the logger's redaction may see a value the
 * serializer already masked), and the class rule of CIPHER DATA is relaxed only on request.
 */
import t from 'tap';
import { PERSONAL_DATA_MASKERS, PERSONAL_FIELD_MASKERS, maskPersonalData } from '@onecard/protocol/ssc';
import { PROPRIETARY_SECRET_BEARING_INS, SECRET_BEARING_INS, formatCommandApdu, isSecretBearingCommand } from '@onecard/protocol/iso7816';

const RECORD = { ssn: '00000019850315018X', name: '欧阳娜娜', cardNumber: 'E1000009X', cardId: '639900D15600000500', birthDate: '19850315', birthplace: '北京', resetInfo: '639900D15600000500C0FFEE1A2B3C4D', version: '2.00' };

t.test('maskPersonalData masks every field of the table and nothing else', async (t) => {
  const m = maskPersonalData(RECORD);
  for (const k of Object.keys(PERSONAL_FIELD_MASKERS)) {
    const v = RECORD[k as keyof typeof RECORD];
    t.not(m[k as keyof typeof RECORD], v, `${k} masked`);
    t.equal(PERSONAL_FIELD_MASKERS[k]!(m[k as keyof typeof RECORD]), m[k as keyof typeof RECORD], `${k} masking is idempotent`);
  }
  t.equal(m.version, '2.00');
  t.equal(PERSONAL_DATA_MASKERS['readCardBas']!('not|a|record'), '***', 'an unparseable iReadCardBas string is hidden whole');
});

t.test('secret-bearing instructions', async (t) => {
  for (const ins of SECRET_BEARING_INS) {
    t.ok(isSecretBearingCommand({ cla: 0x00, ins }), `${ins.toString(16)} in class 00`);
    t.ok(isSecretBearingCommand({ cla: 0x84, ins }), `${ins.toString(16)} in class 84`);
  }
  for (const ins of PROPRIETARY_SECRET_BEARING_INS) {
    t.ok(isSecretBearingCommand({ cla: 0x80, ins }));
    t.notOk(isSecretBearingCommand({ cla: 0x00, ins }));
    t.ok(isSecretBearingCommand({ cla: 0x00, ins }, { anyClass: true }));
  }
  t.notOk(isSecretBearingCommand({ cla: 0x00, ins: 0xb0 }, { anyClass: true }));
  const apdu = { cla: 0x00, ins: 0xfa, p1: 0, p2: 0, data: Uint8Array.of(0x12, 0x34) };
  t.equal(formatCommandApdu(apdu), '00 FA 00 00 Lc=2 1234');
  t.equal(formatCommandApdu(apdu, { anyClass: true }), '00 FA 00 00 Lc=2 <redacted 2 bytes>');
});
