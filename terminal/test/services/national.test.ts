import t from 'tap';
import { TerminalError, TERM_ERRORS, type TerminalErrorCode } from '../../src/errors.ts';
import { SERVICES_ERRORS } from '../../src/services/error-codes.ts';
import { NATIONAL_CODES, nationalErrorCode } from '../../src/services/index.ts';

t.test('every services code maps to a national code [SC-IF app. A]', async (t) => {
  for (const code of Object.keys(SERVICES_ERRORS) as TerminalErrorCode[]) {
    const n = nationalErrorCode(new TerminalError(code, undefined, { sw: 0x6a82 }));
    t.ok(Number.isInteger(n) && n < 0, `${code} → ${n}`);
  }
  for (const code of Object.keys(NATIONAL_CODES)) t.ok(code in TERM_ERRORS, `${code} is a registered code`);
});

t.test('fixed interface codes [national-interface §6.1]', async (t) => {
  const n = (code: TerminalErrorCode, details = {}): number => nationalErrorCode(new TerminalError(code, undefined, details));
  t.equal(n('TERM_ERR_CARD_NOT_GENUINE'), -21);
  t.equal(n('TERM_ERR_PIN_WRONG', { triesLeft: 2 }), -51);
  t.equal(n('TERM_ERR_PIN_LOCKED'), -52);
  t.equal(n('TERM_ERR_NO_PSAM'), -2201);
  t.equal(n('TERM_ERR_PSAM_NO_ALGORITHM'), -2202);
  t.equal(n('TERM_ERR_PSAM_NO_RKSSSE'), -2203);
  t.equal(n('TERM_ERR_PSAM_KEY_LEVEL'), -24);
  t.equal(n('TERM_ERR_CARD_REMOVED'), -2);
  t.equal(n('TERM_ERR_NO_CARD'), -2);
  t.equal(n('TERM_ERR_INSUFFICIENT_FUNDS'), -37889);
});

t.test('status words as negative decimals, with the table exceptions [national-interface §6.2]', async (t) => {
  const sw = (code: TerminalErrorCode, v: unknown): number => nationalErrorCode(new TerminalError(code, undefined, { sw: v }));
  t.equal(sw('TERM_ERR_CARD_STATUS', 0x6a82), -27266);
  t.equal(sw('TERM_ERR_CARD_STATUS', 0x6a86), -26370);
  t.equal(sw('TERM_ERR_CARD_STATUS', 0x6e00), -26371);
  t.equal(sw('TERM_ERR_CARD_STATUS', 0x9406), -37894);
  t.equal(sw('TERM_ERR_PSAM_STATUS', 0x6a88), -27272);
  t.equal(sw('TERM_ERR_EXTERNAL_AUTH_FAILED', 0x63c1), -25537);
  t.equal(sw('TERM_ERR_CARD_STATUS', undefined), -13, 'no SW: −13');
  t.equal(sw('TERM_ERR_CARD_STATUS', 0x9000), -13);
  t.equal(nationalErrorCode(new Error('x')), -13, 'not a TerminalError');
  t.equal(nationalErrorCode('boom'), -13);
});
