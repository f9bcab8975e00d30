import t from 'tap';
import { SRV_ERRORS, ServerError, type ServerErrorCode } from '../src/errors.ts';

// Registry messages are templates filled by formatErrorMessage (@onecard/protocol/errors).
const TYPICAL: Readonly<Record<string, unknown>> = { sw: 0x6a82, triesLeft: 2, field: 'name', step: 'PUT', device: 'card', opensAt: '2026-12-01T00:00:00.000Z', closesAt: '2026-12-10T00:00:00.000Z' };

t.test('no SRV_ERR message keeps an unfilled placeholder after formatting with typical or no details', async (t) => {
  for (const [code, template] of Object.entries(SRV_ERRORS)) {
    for (const name of template.matchAll(/\{([A-Za-z]\w*)\}/g)) t.ok(Object.hasOwn(TYPICAL, name[1]!), `${code}: typical value for {${name[1]}}`);
    for (const details of [TYPICAL, {}]) {
      const m = new ServerError(code as ServerErrorCode, undefined, { ...details }).message;
      if (/\{[A-Za-z]\w*\}|details\.\w|\(\s*\)|undefined|NaN/.test(m)) t.fail(`${code}: ${m}`);
    }
  }
  t.equal(new ServerError('SRV_ERR_NOT_FOUND', 'terminal t1').message, 'No such resource: terminal t1');
});
