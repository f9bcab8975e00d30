/** Renders `docs/errors.md` from the registries; shared by the writer script and the sync tests. */
import { PROTO_ERRORS } from '@onecard/protocol/src/errors.ts';
import { TERM_ERRORS } from '@onecard/terminal/src/errors.ts';
import { SIM_ERRORS } from '@onecard/simulators/src/errors.ts';
import { SRV_ERRORS } from '@onecard/server/src/errors.ts';

const sections: ReadonlyArray<readonly [string, string, Readonly<Record<string, string>>]> = [
  ['@onecard/protocol', 'ProtocolError', PROTO_ERRORS],
  ['@onecard/terminal', 'TerminalError', TERM_ERRORS],
  ['@onecard/simulators', 'SimulatorError', SIM_ERRORS],
  ['@onecard/server', 'ServerError', SRV_ERRORS],
];

export async function renderErrorsDoc(): Promise<string> {
  let out = '# OneCard error codes\n\n';
  out += 'Every error OneCard throws on purpose carries a stable `code`. Codes never change meaning;\n';
  out += 'new ones are added, retired ones are never reused. Branch on `err.code`, never on the message.\n';
  out += 'Messages are templates: `{sw}` is filled from the error\'s `details` (status words as 4 hex digits);\n';
  out += 'a parenthesised part whose detail is missing is left out (`formatErrorMessage`, @onecard/protocol/errors).\n';
  out += 'This file is generated from the registries by `npm run docs:errors`.\n';
  for (const [pkg, cls, table] of sections) {
    out += `\n## ${pkg} (\`${cls}\`)\n\n| code | meaning |\n|---|---|\n`;
    for (const code of Object.keys(table).sort()) out += `| \`${code}\` | ${table[code]!.replace(/\|/g, '\\|')} |\n`;
  }
  return out;
}
