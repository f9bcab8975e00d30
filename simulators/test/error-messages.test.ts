import t from 'tap';
import { SIM_ERRORS, SimulatorError, type SimulatorErrorCode } from '../src/errors.ts';

const TYPICAL: Readonly<Record<string, unknown>> = { sw: 0x6a82, triesLeft: 2, field: 'name', step: 'READ RECORD 09', device: 'card' };

t.test('no SIM_ERR message keeps an unfilled placeholder after formatting with typical or no details', async (t) => {
  for (const [code, template] of Object.entries(SIM_ERRORS)) {
    for (const name of template.matchAll(/\{([A-Za-z]\w*)\}/g)) t.ok(Object.hasOwn(TYPICAL, name[1]!), `${code}: typical value for {${name[1]}}`);
    for (const details of [TYPICAL, {}]) {
      const m = new SimulatorError(code as SimulatorErrorCode, undefined, { ...details }).message;
      if (/\{[A-Za-z]\w*\}|details\.\w|\(\s*\)|undefined|NaN/.test(m)) t.fail(`${code}: ${m}`);
    }
  }
  t.equal(new SimulatorError('SIM_ERR_CARD_FILE', 'name: too long', { field: 'name' }).message, 'Invalid card personalisation file: name: too long');
});
