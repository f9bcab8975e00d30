import t from 'tap';
import { runCli, COMMANDS } from '../../src/cli/run.ts';
import type { CliIo } from '../../src/cli/io.ts';
import { exitCodeOf, CARD_EXIT, reportFailure } from '../../src/cli/card-cli.ts';
import { TerminalError } from '../../src/errors.ts';

async function cli(argv: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { readStdin: async () => stdin, stdout: (s) => void (out += s), stderr: (s) => void (err += s) };
  return { code: await runCli(argv, io), out, err };
}

t.test('every new subcommand is registered and has --help', async (t) => {
  for (const name of ['read-card', 'pin', 'purchase', 'readers', 'run', 'atr']) {
    t.ok(Object.hasOwn(COMMANDS, name), name);
    const r = await cli([name, '--help']);
    t.equal(r.code, 0, name);
    t.match(r.out, new RegExp(`Usage: onecard-terminal ${name}`));
  }
  t.match((await cli(['--help'])).out, /read-card/);
});

t.test('usage errors exit 2 with a message', async (t) => {
  t.match(await cli(['read-card']), { code: 2, err: /missing --reader/ });
  t.match(await cli(['read-card', '--reader', 'usb:/dev/x']), { code: 2, err: /serial:PATH or hid:PATH/ });
  t.match(await cli(['read-card', '--reader', 'serial:/dev/x', '--format', 'xml']), { code: 2 });
  t.match(await cli(['read-card', '--reader', 'serial:/dev/x', '--psam-slot', '9']), { code: 2 });
  t.match(await cli(['read-card', '--reader', 'serial:/dev/x', '--format', 'ireadcardbas', '--encoding', 'latin1']), { code: 2, err: /gbk or utf8/ });
  t.match(await cli(['read-card', '--reader', 'serial:/dev/x', '--json', '--encoding', 'gbk']), { code: 2, err: /ireadcardbas only/ });
  t.match((await cli(['read-card', '--help'])).out, /--encoding gbk\|utf8 +bytes of that string: gbk \(default/);
  t.match(await cli(['pin', '--reader', 'serial:/dev/x']), { code: 2, err: /verify, change or status/ });
  t.match(await cli(['pin', 'verify', '--reader', 'serial:/dev/x'], ''), { code: 2, err: /PIN line/ });
  t.match(await cli(['purchase', '--reader', 'serial:/dev/x', '--amount', '0']), { code: 2 });
  t.match(await cli(['purchase', '--reader', 'serial:/dev/x', '--amount', '12.5']), { code: 2 });
  t.match(await cli(['readers', '--bogus']), { code: 2 });
});

t.test('no reader on the path: exit 3 with the code and a hint', async (t) => {
  const r = await cli(['read-card', '--reader', 'serial:/dev/onecard-no-such-reader', '--timeout', '1500', '--json']);
  t.equal(r.code, CARD_EXIT.reader, r.err);
  t.match(r.err, /TERM_ERR_READER_UNAVAILABLE/);
  t.match(r.err, /hint: /);
  t.equal(r.out, '');
});

t.test('exit code families and reports', async (t) => {
  t.equal(exitCodeOf(new TerminalError('TERM_ERR_NO_CARD')), CARD_EXIT.card);
  t.equal(exitCodeOf(new TerminalError('TERM_ERR_CARD_NOT_GENUINE')), CARD_EXIT.refused);
  t.equal(exitCodeOf(new TerminalError('TERM_ERR_PIN_LOCKED')), CARD_EXIT.pin);
  t.equal(exitCodeOf(new TerminalError('TERM_ERR_NO_PSAM')), CARD_EXIT.psam);
  t.equal(exitCodeOf(new TerminalError('TERM_ERR_LINK_OPEN')), CARD_EXIT.reader);
  t.equal(exitCodeOf(new Error('x')), CARD_EXIT.failed);
  let err = '';
  const io: CliIo = { readStdin: async () => '', stdout: () => undefined, stderr: (s) => void (err += s) };
  t.equal(reportFailure(io, 'pin verify', new TerminalError('TERM_ERR_PIN_WRONG', '2 tries left', { sw: 0x63c2, triesLeft: 2 })), CARD_EXIT.pin);
  t.match(err, /TERM_ERR_PIN_WRONG.*tries left: 2, SW 63C2, national code -51/);
});
