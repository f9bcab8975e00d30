/**
 * ATR corpus driver: feeds every ATR of the pcsc-tools list (`smartcard_list.txt`, test data only)
 * through the ATR analyser in lenient and strict mode and through both CLI renderers, and fails on
 * any exception other than a ProtocolError (strict mode) or any re-encoding mismatch. Pattern lines
 * (`..`, `[..]` wildcards) are made concrete by substituting the first allowed digit, or skipped when
 * that is not possible; both are counted.
 *
 * Run: `node --import tsx terminal/test/corpus/atr-corpus.ts [path]` (default
 * /usr/share/pcsc/smartcard_list.txt). `runAtrCorpus` is also used by test/cli/atr-corpus.test.ts.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { fromHex, toHex } from '@onecard/protocol/bytes';
import { ProtocolError } from '@onecard/protocol/errors';
import { decodeAtr, encodeAtr, MAX_ATR_LENGTH } from '@onecard/protocol/iso7816';
import { atrToJson, atrToText } from '../../src/cli/atr-report.ts';

export const DEFAULT_CORPUS = '/usr/share/pcsc/smartcard_list.txt';

export interface CorpusResult {
  /** ATR lines (starting with 3B or 3F). */
  readonly lines: number;
  readonly exact: number;
  /** Pattern lines made concrete by substitution. */
  readonly substituted: number;
  /** Pattern lines that could not be made concrete. */
  readonly skipped: number;
  readonly valid: number;
  readonly invalid: number;
  /** Invalid among the exact (non-pattern) lines; substituted wildcards often break the TCK. */
  readonly invalidExact: number;
  /** Invalid ATRs by their first error code (what strict mode throws). */
  readonly invalidByCode: Readonly<Record<string, number>>;
  /** Every finding code (errors and warnings), counted once per ATR. */
  readonly findingsByCode: Readonly<Record<string, number>>;
  readonly specificMode: number;
  /** Unexpected exceptions, mismatches: each a one-line description. Must be empty. */
  readonly failures: readonly string[];
}

/** Turns one pattern line into concrete hex, or undefined when it cannot. */
export function concretise(line: string): string | undefined {
  const s = line.replace(/\[([^\]]*)\]/g, (_m, cls: string) => {
    if (cls.startsWith('^')) return '?';
    const d = /[0-9A-Fa-f]/.exec(cls);
    return d === null ? '?' : d[0];
  }).replace(/\./g, '0');
  const compact = s.replace(/\s+/g, '');
  return /^([0-9A-Fa-f]{2})+$/.test(compact) ? compact : undefined;
}

/** Runs the corpus text through lenient and strict decoding and both renderers. */
export function runAtrCorpus(text: string): CorpusResult {
  const r = {
    lines: 0,
    exact: 0,
    substituted: 0,
    skipped: 0,
    valid: 0,
    invalid: 0,
    invalidExact: 0,
    invalidByCode: {} as Record<string, number>,
    findingsByCode: {} as Record<string, number>,
    specificMode: 0,
    failures: [] as string[],
  };
  const bump = (m: Record<string, number>, k: string): void => {
    m[k] = (m[k] ?? 0) + 1;
  };
  for (const raw of text.split(/\r?\n/)) {
    if (!/^3[BF]/i.test(raw)) continue;
    r.lines++;
    const line = raw.trim();
    const exact = /^[0-9A-Fa-f ]+$/.test(line);
    const hex = exact ? line : concretise(line);
    let bytes: Uint8Array | undefined;
    try {
      bytes = hex === undefined ? undefined : fromHex(hex);
    } catch {
      bytes = undefined;
    }
    if (bytes === undefined) {
      r.skipped++;
      continue;
    }
    if (exact) r.exact++;
    else r.substituted++;
    try {
      const atr = decodeAtr(bytes);
      if (atr.valid) r.valid++;
      else {
        r.invalid++;
        if (exact) r.invalidExact++;
        bump(r.invalidByCode, atr.findings.find((f) => f.severity === 'error')!.code);
      }
      for (const code of new Set(atr.findings.map((f) => f.code))) bump(r.findingsByCode, code);
      if (atr.specificMode !== undefined) r.specificMode++;
      atrToText(atr);
      JSON.stringify(atrToJson(atr));
      if (atr.complete && bytes.length <= MAX_ATR_LENGTH && toHex(encodeAtr(atr.fields)) !== toHex(bytes)) {
        r.failures.push(`${line}: re-encoding differs`);
      }
    } catch (err) {
      r.failures.push(`${line}: lenient: ${String(err)}`);
    }
    try {
      decodeAtr(bytes, { mode: 'strict' });
    } catch (err) {
      if (!(err instanceof ProtocolError)) r.failures.push(`${line}: strict: ${String(err)}`);
    }
  }
  return r;
}

function main(): number {
  const path = process.argv[2] ?? DEFAULT_CORPUS;
  const res = runAtrCorpus(readFileSync(path, 'utf8'));
  const out = (s: string): void => void process.stdout.write(s + '\n');
  out(`ATR corpus ${path}`);
  out(`  ATR lines ${res.lines}: exact ${res.exact}, patterns substituted ${res.substituted}, patterns skipped ${res.skipped}`);
  out(`  valid ${res.valid}, invalid ${res.invalid} (of them exact lines ${res.invalidExact}), specific mode (TA2) ${res.specificMode}`);
  out('  invalid by first error code:');
  for (const [code, n] of Object.entries(res.invalidByCode).sort()) out(`    ${code} ${n}`);
  out('  ATRs per finding code (errors and warnings):');
  for (const [code, n] of Object.entries(res.findingsByCode).sort()) out(`    ${code} ${n}`);
  if (res.lines === 0) {
    out('FAIL: no ATR lines found');
    return 1;
  }
  if (res.failures.length > 0) {
    out(`FAIL: ${res.failures.length} unexpected failure(s):`);
    for (const f of res.failures.slice(0, 50)) out(`    ${f}`);
    return 1;
  }
  out('OK: no crash in lenient or strict mode');
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.env['TAP'] === '1') {
    // picked up by `tap` as a test file: the corpus itself runs in test/cli/atr-corpus.test.ts
    process.stdout.write('1..0 # SKIP corpus driver script, exercised by test/cli/atr-corpus.test.ts\n');
  } else {
    process.exitCode = main();
  }
}
