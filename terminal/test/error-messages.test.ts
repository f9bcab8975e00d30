import t from 'tap';
import { TERM_ERRORS, TerminalError, type TerminalErrorCode } from '../src/errors.ts';
import { reportFailure } from '../src/cli/card-cli.ts';
import { statusError } from '../src/services/common.ts';
import type { CliIo } from '../src/cli/io.ts';

// Held-out conformance run: messages carried "(details.sw)" and "(details.triesLeft)" verbatim.
const TYPICAL: Readonly<Record<string, unknown>> = { sw: 0x6a82, triesLeft: 2, field: 'cardNumber', step: 'READ RECORD 07', device: 'card', finding: 'PROTO_ERR_ATR_TS', serverCode: 'SRV_ERR_VENUE_EVENT_FULL' };
const UNFILLED = /\{[A-Za-z]\w*\}|details\.\w|\(\s*\)|undefined|NaN/;

t.test('no TERM_ERR message keeps an unfilled placeholder after formatting with typical or no details', async (t) => {
  const registries: [Record<string, string>, (code: string, details: Record<string, unknown>) => Error][] = [
    [TERM_ERRORS, (c, d) => new TerminalError(c as TerminalErrorCode, undefined, d)],
  ];
  for (const [registry, make] of registries) {
    for (const [code, template] of Object.entries(registry)) {
      for (const name of template.matchAll(/\{([A-Za-z]\w*)\}/g)) t.ok(Object.hasOwn(TYPICAL, name[1]!), `${code}: typical value for {${name[1]}}`);
      for (const details of [TYPICAL, {}]) {
        const m = make(code, { ...details }).message;
        if (UNFILLED.test(m)) t.fail(`${code}: ${m}`);
      }
    }
  }
  t.pass('every template scanned');
});

t.test('status and PIN errors show their SW and tries left, once', async (t) => {
  t.equal(statusError(0x6a82, 'card', 'READ RECORD 07').message, 'The card refused a command (SW 6A82): READ RECORD 07');
  t.equal(statusError(0x6985, 'psam', 'CIPHER DATA').message, 'The PSAM refused a command (SW 6985): CIPHER DATA');
  t.equal(new TerminalError('TERM_ERR_PIN_WRONG', undefined, { sw: 0x63c2, triesLeft: 2 }).message, 'Wrong PIN (2 tries left)');
  t.equal(new TerminalError('TERM_ERR_EXTERNAL_AUTH_FAILED', 'key 0a', { sw: 0x63c1, triesLeft: 1 }).message, 'External authentication refused by the card (SW 63C1, 1 tries left): key 0a');
  let err = '';
  const io: CliIo = { readStdin: async () => '', stdout: () => undefined, stderr: (s) => void (err += s) };
  reportFailure(io, 'read-card', new TerminalError('TERM_ERR_CARD_STATUS', 'SELECT EF05', { sw: 0x6a82 }));
  t.notMatch(err, UNFILLED);
  t.match(err, /TERM_ERR_CARD_STATUS: The card refused a command \(SW 6A82\): SELECT EF05/);
});
