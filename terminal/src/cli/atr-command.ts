/**
 * `onecard-terminal atr`: analyses ATRs for field technicians, in the spirit of an ATR analysis
 * tool: a readable byte-by-byte report by default, one JSON object per line with `--json`. ATRs come
 * from the arguments or, with `-`, one per line from standard input. Exit code 0 when every ATR is
 * valid, 1 when one is not (wrong TCK, truncated, ...), 2 on a usage error.
 */
import { fromHex } from '@onecard/protocol/bytes';
import { isProtocolError } from '@onecard/protocol/errors';
import { analyseAtr } from '../card/atr-check.ts';
import { atrToJson, atrToText } from './atr-report.ts';
import { EXIT, type CliCommand, type CliIo } from './io.ts';

export const ATR_HELP = `Usage: onecard-terminal atr [--json] [HEX ...] [-]

Analyse smart card ATRs (ISO/IEC 7816-3): TS, T0, interface bytes, Fi/Di, offered protocols,
specific/negotiable mode, T=1 parameters (IFSC, BWI, CWI, EDC), T=15 global bytes, historical
bytes (ISO/IEC 7816-4 and the social security card layout) and the TCK.

Arguments:
  HEX          one ATR per argument; spaces and colons are allowed inside, so quote it:
                 onecard-terminal atr "3B 6D 00 00 00 81 4E 43 23 86 97 15 99 00 BF 7C 7A"
               unquoted single bytes (3B 6D 00 ...) are joined into one ATR
  -            read ATRs from standard input, one per line (blank lines and # comments skipped)

Options:
  --json       print one JSON object per ATR, one per line, with at least: atr, valid,
               findings (codes), protocols, historicalBytes, tck {present, valid}, fi, di,
               and t1 {ifsc, bwi, cwi, edc} when T=1 is offered
  -h, --help   show this help

Exit status: 0 all ATRs valid, 1 at least one ATR invalid, 2 usage error.
`;

/** Splits argv into options and ATR sources; returns a usage error message on a bad option. */
function parseArgs(argv: readonly string[]): { json: boolean; help: boolean; sources: ('-' | string)[] } | string {
  let json = false;
  let help = false;
  let endOfOptions = false;
  const positional: string[] = [];
  for (const a of argv) {
    if (!endOfOptions && a === '--') endOfOptions = true;
    else if (!endOfOptions && a === '--json') json = true;
    else if (!endOfOptions && (a === '--help' || a === '-h')) help = true;
    else if (!endOfOptions && a.startsWith('-') && a !== '-') return `unknown option '${a}'`;
    else positional.push(a);
  }
  // unquoted bytes: `atr 3B 6D 00 00` means one ATR
  const hexArgs = positional.filter((p) => p !== '-');
  if (hexArgs.length >= 2 && hexArgs.every((p) => /^[0-9A-Fa-f]{2}$/.test(p))) {
    const joined = hexArgs.join('');
    const sources: string[] = [];
    let placed = false;
    for (const p of positional) {
      if (p === '-') sources.push(p);
      else if (!placed) {
        sources.push(joined);
        placed = true;
      }
    }
    return { json, help, sources };
  }
  return { json, help, sources: positional };
}

/** Analyses one ATR given as text; returns the rendered output and whether it is valid. */
export function analyseAtrText(text: string, json: boolean): { output: string; valid: boolean } {
  let bytes: Uint8Array;
  try {
    bytes = fromHex(text);
  } catch (err) {
    if (!isProtocolError(err, 'PROTO_ERR_HEX')) throw err;
    const output = json
      ? JSON.stringify({ atr: text, valid: false, findings: ['PROTO_ERR_HEX'], findingDetails: [{ code: 'PROTO_ERR_HEX', severity: 'error', message: err.message }] }) + '\n'
      : `ATR: ${text}\n  not an ATR: ${err.message}\nResult: INVALID ATR\n`;
    return { output, valid: false };
  }
  const atr = analyseAtr(bytes);
  return { output: json ? JSON.stringify(atrToJson(atr)) + '\n' : atrToText(atr), valid: atr.valid };
}

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseArgs(argv);
  if (typeof parsed === 'string') {
    io.stderr(`onecard-terminal atr: ${parsed}\n\n${ATR_HELP}`);
    return EXIT.usage;
  }
  if (parsed.help) {
    io.stdout(ATR_HELP);
    return EXIT.ok;
  }
  if (parsed.sources.length === 0) {
    io.stderr(`onecard-terminal atr: no ATR given (pass HEX arguments or - for standard input)\n\n${ATR_HELP}`);
    return EXIT.usage;
  }
  const atrs: string[] = [];
  let stdinRead = false;
  for (const s of parsed.sources) {
    if (s !== '-') {
      atrs.push(s);
      continue;
    }
    if (stdinRead) continue;
    stdinRead = true;
    for (const line of (await io.readStdin()).split(/\r?\n/)) {
      const l = line.trim();
      if (l !== '' && !l.startsWith('#')) atrs.push(l);
    }
  }
  let allValid = true;
  atrs.forEach((text, n) => {
    const { output, valid } = analyseAtrText(text, parsed.json);
    if (!parsed.json && n > 0) io.stdout('\n');
    io.stdout(output);
    if (!valid) allValid = false;
  });
  return allValid ? EXIT.ok : EXIT.failed;
}

export const atrCommand: CliCommand = {
  summary: 'analyse ATRs (readable report or --json); - reads one ATR per line from stdin',
  run,
};
