import t from 'tap';
import {
  bytesAvailable, correctLe, describeStatusWord, ISO7816_STATUS_WORDS, isError, isSuccess, isWarning,
  NATIONAL_SW_CODES, nationalInterfaceCode, retriesLeft, SSC_STATUS_WORDS, statusKind, statusWordFromNationalCode,
} from '../../src/iso7816/status-words.ts';

t.test('[7816-4 §5.1.3] classification', async (t) => {
  t.equal(statusKind(0x9000), 'success');
  t.equal(statusKind(0x6110), 'success');
  t.equal(statusKind(0x6282), 'warning');
  t.equal(statusKind(0x63c2), 'warning');
  t.equal(statusKind(0x6581), 'execution-error');
  t.equal(statusKind(0x6a82), 'checking-error');
  t.equal(statusKind(0x9303), 'proprietary');
  t.equal(statusKind(0x6000), 'invalid');
  t.equal(statusKind(0x1234), 'invalid');
  t.throws(() => statusKind(0x10000), { code: 'PROTO_ERR_SW_RANGE' });
  t.throws(() => statusKind(-1), { code: 'PROTO_ERR_SW_RANGE' });
  t.ok(isSuccess(0x9000) && isSuccess(0x6100));
  t.notOk(isSuccess(0x6a82) || isSuccess(0x9001));
  t.ok(isWarning(0x6283) && isWarning(0x63c1));
  t.notOk(isWarning(0x9000));
  t.ok(isError(0x6a82) && isError(0x9303) && isError(0x6d00));
  t.notOk(isError(0x9000) || isError(0x63c0) || isError(0x6108));
});

t.test('[7816-4 §5.1.3] counters: 63CX, 61XX, 6CXX', async (t) => {
  t.equal(retriesLeft(0x63c3), 3);
  t.equal(retriesLeft(0x63c0), 0);
  t.equal(retriesLeft(0x6300), undefined);
  t.equal(retriesLeft(0x9000), undefined);
  t.equal(bytesAvailable(0x6108), 8);
  t.equal(bytesAvailable(0x6100), 256);
  t.equal(bytesAvailable(0x6c08), undefined);
  t.equal(correctLe(0x6c12), 0x12);
  t.equal(correctLe(0x6c00), 256);
  t.equal(correctLe(0x6112), undefined);
});

t.test('[7816-4 §5.1.3] ISO meanings, most specific row first', async (t) => {
  t.same(describeStatusWord(0x9000), { sw: 0x9000, kind: 'success', meaning: 'No further qualification (success)', table: 'iso7816', pattern: '9000' });
  t.equal(describeStatusWord(0x6a82).meaning, 'File or application not found');
  t.equal(describeStatusWord(0x6a8f).pattern, '6AXX');
  t.equal(describeStatusWord(0x63c2).meaning, 'Counter value 2 (verification failed, 2 tries left)');
  t.equal(describeStatusWord(0x6281).pattern, '6281');
  t.equal(describeStatusWord(0x6299).pattern, '62XX');
  const unknown = describeStatusWord(0x9401);
  t.equal(unknown.kind, 'proprietary');
  t.equal(unknown.table, undefined);
  t.equal(describeStatusWord(0x1234).meaning, 'Invalid status word');
  // every exact row is reachable (no wildcard row shadows it)
  for (const e of ISO7816_STATUS_WORDS) {
    if (e.pattern.includes('X')) continue;
    t.equal(describeStatusWord(e.value).pattern, e.pattern, e.pattern);
  }
});

t.test('[SSC P5 table 5] social security card table', async (t) => {
  t.equal(describeStatusWord(0x9401, { table: 'ssc' }).meaning, 'Insufficient funds');
  t.equal(describeStatusWord(0x9401, { table: 'ssc' }).table, 'ssc');
  t.equal(describeStatusWord(0x6b00, { table: 'ssc' }).meaning, 'Offset beyond the EF');
  t.equal(describeStatusWord(0x6108, { table: 'ssc' }).meaning, 'More bytes available (08 hex); send GET RESPONSE 00 C0 00 00 08');
  t.equal(describeStatusWord(0x63c1, { table: 'ssc' }).meaning, 'Authentication or PIN failed; 1 tries left (63C0 = now locked)');
  // falls back to ISO for SWs the SSC table does not list
  const r = describeStatusWord(0x6283, { table: 'ssc' });
  t.equal(r.table, 'iso7816');
  t.equal(r.pattern, '6283');
  t.equal(SSC_STATUS_WORDS.length, 32);
  for (const e of SSC_STATUS_WORDS) {
    if (e.pattern.includes('X')) continue;
    t.equal(describeStatusWord(e.value, { table: 'ssc' }).table, 'ssc', e.pattern);
  }
});

t.test('[SC-IF app. A] national interface negative decimals', async (t) => {
  t.equal(nationalInterfaceCode(0x9000), 0);
  t.equal(nationalInterfaceCode(0x6a82), -27266);
  t.equal(nationalInterfaceCode(0x63c0), -25536);
  t.equal(nationalInterfaceCode(0x9406), -37894);
  // the two exceptions of the published table
  t.equal(nationalInterfaceCode(0x6a86), -26370);
  t.equal(nationalInterfaceCode(0x6e00), -26371);
  // unlisted SW: -SW [ONECARD]
  t.equal(nationalInterfaceCode(0x6d00), -0x6d00);
  // PIN commands [ONECARD after CODE SSCARD]
  t.equal(nationalInterfaceCode(0x63c2, { pinCommand: true }), -51);
  t.equal(nationalInterfaceCode(0x63c0, { pinCommand: true }), -52);
  t.equal(nationalInterfaceCode(0x6983, { pinCommand: true }), -52);
  t.equal(nationalInterfaceCode(0x6a82, { pinCommand: true }), -27266);
  // every rule-following listed entry is -SW (checked arithmetically, national-interface.md §6.2)
  for (const [sw, code] of NATIONAL_SW_CODES) {
    if (sw === 0x6a86 || sw === 0x6e00) continue;
    t.equal(code, -sw, sw.toString(16));
  }
  t.equal(statusWordFromNationalCode(-27266), 0x6a82);
  t.equal(statusWordFromNationalCode(-26370), 0x6a86);
  t.equal(statusWordFromNationalCode(-26371), 0x6e00);
  t.equal(statusWordFromNationalCode(-26369), undefined);
  t.equal(statusWordFromNationalCode(-51), undefined);
  t.equal(statusWordFromNationalCode(-1), undefined);
  t.equal(statusWordFromNationalCode(0), undefined);
  t.equal(statusWordFromNationalCode(-0x6d00), 0x6d00);
  t.equal(statusWordFromNationalCode(-70000), undefined);
  for (let sw = 0x6100; sw <= 0x9fff; sw += 0x37) {
    const code = nationalInterfaceCode(sw);
    if (statusKind(sw) !== 'invalid') t.equal(statusWordFromNationalCode(code), sw, `round trip ${sw.toString(16)}`);
  }
});
