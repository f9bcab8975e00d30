/**
 * `onecard-terminal read-card`: reads the basic information of the card in a reader (PSAM mode)
 * and prints it as text, JSON (`--json`) or the national iReadCardBas string
 * (`--format ireadcardbas`, GBK bytes by default as the national interface returns them, UTF-8
 * with `--encoding utf8`). Full personal data goes to stdout only: this is the operator's
 * explicit request; logs stay masked.
 */
import { encodeNationalString, type NationalEncoding } from '@onecard/protocol/ssc';
import { readBasicInfo, openFileHotlist, type BasicInfo } from '../services/index.ts';
import { EXIT, type CliCommand, type CliIo } from './io.ts';
import { COMMON_OPTIONS_HELP, parseCardArgs, reportFailure, withCliCard } from './card-cli.ts';

export const READ_CARD_HELP = `Usage: onecard-terminal read-card --reader serial:PATH|hid:PATH [--psam-slot N] [--json | --format ireadcardbas [--encoding gbk|utf8]] [--hotlist FILE]

Read the basic information of a social security card: SSSE, EF05, internal authentication through
the PSAM (card genuine), hotlist, validity, external authentication (3.00), EF06.

Options:
  --json                 print the data as one JSON object
  --format ireadcardbas  print the national iReadCardBas output string (11 fields, '|'-separated)
  --encoding gbk|utf8    bytes of that string: gbk (default, as the national interface returns
                         it, national-interface.md §4.1) or utf8 (for a UTF-8 terminal or file)
  --hotlist FILE         refuse cards listed in this hotlist file

${COMMON_OPTIONS_HELP}`;

function text(info: BasicInfo): string {
  const rows: [string, string][] = [
    ['Name', info.name], ['SSN', info.ssn], ['Card number', info.cardNumber], ['Sex', info.sex], ['Nation', info.nation],
    ['Birth date', info.birthDate], ['Birthplace', info.birthplace], ['Region', info.regionCode], ['Card ID', info.cardId],
    ['Card type', info.cardType], ['Spec version', info.specVersion], ['Algorithm', info.algorithm], ['Issued', info.issueDate],
    ['Expires', info.expiryDate], ['PSAM terminal', info.terminalNumber],
  ];
  return rows.map(([k, v]) => `${k.padEnd(14)} ${v}`).join('\n') + '\n';
}

/**
 * Prints the iReadCardBas string and a newline in `encoding` [national-interface §4.1]. An IO
 * without a byte writer (tests) gets the text, which is what both encodings decode to.
 */
function writeReadCardBas(io: CliIo, readCardBas: string, encoding: NationalEncoding): void {
  if (io.stdoutBytes === undefined) io.stdout(`${readCardBas}\n`);
  else io.stdoutBytes(encodeNationalString(`${readCardBas}\n`, encoding));
}

export const readCardCommand: CliCommand = {
  summary: 'read a social security card (JSON or iReadCardBas)',
  async run(argv, io) {
    const p = parseCardArgs(argv, { '--json': false, '--format': true, '--encoding': true, '--hotlist': true });
    if (typeof p === 'string') {
      io.stderr(`onecard-terminal read-card: ${p}\n\n${READ_CARD_HELP}`);
      return EXIT.usage;
    }
    if (p.help || p.card === undefined) {
      io.stdout(READ_CARD_HELP);
      return EXIT.ok;
    }
    const format = p.values['--format'];
    if (format !== undefined && format !== 'ireadcardbas' && format !== 'json') {
      io.stderr(`onecard-terminal read-card: --format must be ireadcardbas or json\n`);
      return EXIT.usage;
    }
    const encoding = p.values['--encoding'] ?? 'gbk';
    if (encoding !== 'gbk' && encoding !== 'utf8') {
      io.stderr(`onecard-terminal read-card: --encoding must be gbk or utf8\n`);
      return EXIT.usage;
    }
    if (p.values['--encoding'] !== undefined && format !== 'ireadcardbas') {
      io.stderr(`onecard-terminal read-card: --encoding applies to --format ireadcardbas only\n`);
      return EXIT.usage;
    }
    if (p.positional.length > 0) {
      io.stderr(`onecard-terminal read-card: unexpected argument '${p.positional[0]}'\n`);
      return EXIT.usage;
    }
    try {
      const hotlistFile = p.values['--hotlist'];
      const hotlist = typeof hotlistFile === 'string' ? await openFileHotlist(hotlistFile) : undefined;
      const info = await withCliCard(p.card, io, ({ card, psam, logger }) => readBasicInfo({ card, psam, hotlist, logger }));
      if (format === 'ireadcardbas') writeReadCardBas(io, info.readCardBas, encoding);
      else if (p.values['--json'] === true || format === 'json') io.stdout(`${JSON.stringify(info)}\n`);
      else io.stdout(text(info));
      return EXIT.ok;
    } catch (e) {
      return reportFailure(io, 'read-card', e);
    }
  },
};
