import t from 'tap';
import { runCli, COMMANDS } from '../../src/cli/run.ts';
import type { CliIo } from '../../src/cli/io.ts';

const HANDLER_TEST = '3B D6 18 00 80 B1 80 6D 1F 03 80 51 00 61 10 30 9E'; // reader-link.md §12
const SSC = '3B 6D 00 00 00 81 4E 43 23 86 97 15 99 00 BF 7C 7A'; // ssc-card.md §4
const SPECIFIC = '3B 90 96 91 81 B1 FE 55 1F C7 D4';

async function cli(argv: string[], stdin = ''): Promise<{ code: number; out: string; err: string; stdinReads: number }> {
  let out = '';
  let err = '';
  let stdinReads = 0;
  const io: CliIo = {
    readStdin: async () => {
      stdinReads++;
      return stdin;
    },
    stdout: (s) => void (out += s),
    stderr: (s) => void (err += s),
  };
  const code = await runCli(argv, io);
  return { code, out, err, stdinReads };
}

const jsonLines = (out: string): Record<string, unknown>[] => out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

t.test('dispatch table and top-level usage', async (t) => {
  t.ok(Object.hasOwn(COMMANDS, 'atr'));
  const none = await cli([]);
  t.equal(none.code, 2);
  t.match(none.err, /Usage: onecard-terminal <command>/);
  t.match(none.err, /\batr\b/);
  const help = await cli(['--help']);
  t.equal(help.code, 0);
  t.match(help.out, /Commands:/);
  const unknown = await cli(['frobnicate']);
  t.equal(unknown.code, 2);
  t.match(unknown.err, /unknown command 'frobnicate'/);
  t.equal((await cli(['toString'])).code, 2, 'no prototype lookups');
});

t.test('atr --json: one object per ATR with the required fields', async (t) => {
  const r = await cli(['atr', '--json', HANDLER_TEST, SSC]);
  t.equal(r.code, 0);
  t.equal(r.err, '');
  const [a, b] = jsonLines(r.out);
  t.same(
    { atr: a?.['atr'], valid: a?.['valid'], findings: a?.['findings'], protocols: a?.['protocols'], historicalBytes: a?.['historicalBytes'], fi: a?.['fi'], di: a?.['di'] },
    { atr: '3BD6180080B1806D1F038051006110309E', valid: true, findings: [], protocols: [0, 1, 15], historicalBytes: '805100611030', fi: 372, di: 12 },
  );
  t.match(a?.['tck'], { present: true, valid: true, status: 'ok' });
  t.same(a?.['t1'], { ifsc: 128, bwi: 6, cwi: 13, edc: 'lrc' });
  t.equal(a?.['mode'], 'negotiable');
  t.same(b?.['protocols'], [0]);
  t.match(b?.['tck'], { present: false, valid: true });
  t.equal(b?.['t1'], undefined, 'no T=1 parameters for a T=0-only card');
  t.same(b?.['findings'], ['PROTO_ERR_ATR_COMPACT_TLV']);
  t.match(b?.['ssc'], { region: '1599', serial: '00BF7C7A', chipSupplier: '0081' });
  const s = jsonLines((await cli(['atr', '--json', SPECIFIC])).out)[0];
  t.equal(s?.['mode'], 'specific');
  t.same(s?.['specificMode'], { protocol: 1, canChangeMode: false, implicitParameters: false });
  t.same(s?.['global'], { clockStop: 'no-preference', ui: 7, classes: ['A', 'B', 'C'] });
});

t.test('atr: invalid ATRs give exit 1 and their codes', async (t) => {
  const r = await cli(['atr', '--json', '3B 80 01 00', '3B 02 14 50 11', 'xyz']);
  t.equal(r.code, 1);
  const rows = jsonLines(r.out);
  t.equal(rows.length, 3);
  t.same(rows[0]?.['findings'], ['PROTO_ERR_ATR_TCK_BAD']);
  t.match(rows[0]?.['tck'], { present: true, valid: false, value: '00', expected: '81' });
  t.same(rows[1]?.['findings'], ['PROTO_ERR_ATR_TCK_UNEXPECTED']);
  t.same(rows[2]?.['findings'], ['PROTO_ERR_HEX']);
  t.equal(rows[2]?.['valid'], false);
  const one = await cli(['atr', '3B 80 01']);
  t.equal(one.code, 1);
  t.match(one.out, /TCK\s+MISSING/);
  t.match(one.out, /ERROR\s+PROTO_ERR_ATR_TCK_MISSING/);
  t.match(one.out, /Result: INVALID ATR/);
});

t.test('atr: readable report', async (t) => {
  const r = await cli(['atr', HANDLER_TEST]);
  t.equal(r.code, 0);
  t.match(r.out, /^ATR: 3B D6 18 00 80 B1 80 6D 1F 03 80 51 00 61 10 30 9E\n/);
  t.match(r.out, /TA1\s+18\s+Fi = 372, f max = 5 MHz, Di = 12/);
  t.match(r.out, /TA3\s+80\s+T=1 IFSC = 128/);
  t.match(r.out, /TB3\s+6D\s+T=1 BWI = 6, CWI = 13/);
  t.match(r.out, /TA4\s+03\s+clock stop: not supported/);
  t.match(r.out, /TCK\s+9E\s+TCK correct/);
  t.match(r.out, /protocols: T=0, T=1, T=15 \(default T=0\)/);
  t.match(r.out, /Findings: none/);
  const ssc = await cli(['atr', SSC]);
  t.match(ssc.out, /social security card layout/);
  t.match(ssc.out, /region 1599, serial 00BF7C7A/);
  t.match(ssc.out, /warning PROTO_ERR_ATR_COMPACT_TLV/);
  t.match(ssc.out, /Result: valid ATR/);
  const spec = await cli(['atr', SPECIFIC]);
  t.match(spec.out, /mode: specific, T=1, cannot change mode/);
});

t.test('atr: unquoted bytes are one ATR; several quoted ATRs are several', async (t) => {
  const joined = await cli(['atr', '--json', ...SSC.split(' ')]);
  t.equal(jsonLines(joined.out).length, 1);
  t.equal(jsonLines(joined.out)[0]?.['atr'], SSC.replace(/ /g, ''));
  const two = await cli(['atr', '--json', '3B00', '3B021450']);
  t.equal(jsonLines(two.out).length, 2);
});

t.test('atr -: one ATR per line from stdin, blank lines and comments skipped', async (t) => {
  const r = await cli(['atr', '--json', '-'], `# reader A\n${HANDLER_TEST}\n\n  ${SSC}  \r\n3B 80 01 00\n`);
  t.equal(r.stdinReads, 1);
  t.equal(r.code, 1);
  const rows = jsonLines(r.out);
  t.same(rows.map((x) => x['valid']), [true, true, false]);
  const ok = await cli(['atr', '--json', '3B00', '-', '-'], '3B021450\n');
  t.equal(ok.code, 0);
  t.equal(ok.stdinReads, 1, 'stdin read once');
  t.same(jsonLines(ok.out).map((x) => x['atr']), ['3B00', '3B021450']);
  const noStdin = await cli(['atr', '3B00']);
  t.equal(noStdin.stdinReads, 0, 'stdin untouched without -');
});

t.test('atr: usage errors exit 2, --help exits 0', async (t) => {
  const none = await cli(['atr']);
  t.equal(none.code, 2);
  t.match(none.err, /no ATR given/);
  const bad = await cli(['atr', '--yaml', '3B00']);
  t.equal(bad.code, 2);
  t.match(bad.err, /unknown option '--yaml'/);
  t.equal(bad.out, '');
  const help = await cli(['atr', '--help']);
  t.equal(help.code, 0);
  t.match(help.out, /Usage: onecard-terminal atr/);
  t.match(help.out, /--json/);
  t.match(help.out, /Exit status: 0 all ATRs valid, 1 at least one ATR invalid, 2 usage error/);
  const dashdash = await cli(['atr', '--json', '--', '3B00']);
  t.equal(dashdash.code, 0);
});
