import t from 'tap';
import { PROTO_ERRORS, ProtocolError, formatErrorMessage } from '../src/errors.ts';

t.test('formatErrorMessage fills placeholders from details and drops groups it cannot fill', async (t) => {
  t.equal(formatErrorMessage('The card refused a command (SW {sw})', { sw: 0x6a82 }), 'The card refused a command (SW 6A82)');
  t.equal(formatErrorMessage('The card refused a command (SW {sw})', {}), 'The card refused a command');
  t.equal(formatErrorMessage('Wrong PIN ({triesLeft} tries left)', { triesLeft: 2 }, 'VERIFY'), 'Wrong PIN (2 tries left): VERIFY');
  t.equal(formatErrorMessage('Refused (SW {sw}, {triesLeft} tries left)', { sw: 0x63c1 }), 'Refused (SW 63C1)');
  t.equal(formatErrorMessage('Refused (SW {sw}, {triesLeft} tries left)', { triesLeft: 0 }), 'Refused (0 tries left)');
  t.equal(formatErrorMessage('Refused (SW {sw}, {triesLeft} tries left)', { sw: 0x6983, triesLeft: 0 }), 'Refused (SW 6983, 0 tries left)');
  t.equal(formatErrorMessage('Bad {field} here', {}), 'Bad unknown here', 'a placeholder outside a group never shows braces');
  t.equal(formatErrorMessage('Bad (see {field})', { field: { nested: true } }), 'Bad', 'objects are not shown');
  t.equal(formatErrorMessage('Plain (no placeholder)', {}), 'Plain (no placeholder)', 'ordinary parentheses stay');
  t.equal(formatErrorMessage('Plain', {}, 'detail'), 'Plain: detail');
});

/** Typical details of every placeholder a registry message may use. */
const TYPICAL: Readonly<Record<string, unknown>> = { sw: 0x6a82, triesLeft: 2, field: 'cardNumber', step: 'READ RECORD 07', device: 'card' };

t.test('no PROTO_ERR message keeps an unfilled placeholder after formatting with typical or no details', async (t) => {
  for (const [code, template] of Object.entries(PROTO_ERRORS)) {
    for (const name of template.matchAll(/\{([A-Za-z]\w*)\}/g)) t.ok(Object.hasOwn(TYPICAL, name[1]!), `${code}: typical value for {${name[1]}}`);
    for (const details of [TYPICAL, {}]) {
      const m = new ProtocolError(code as keyof typeof PROTO_ERRORS, undefined, details as Record<string, number | string>).message;
      t.notMatch(m, /\{[A-Za-z]\w*\}|details\.\w|\(\s*\)|undefined|NaN/, `${code}: ${m}`);
    }
  }
});
