import t from 'tap';
import type { ReaderCard } from '@onecard/simulators';
import { card } from './helpers.ts';
import { runOnMemory } from './fault-harness.ts';
import { analyseAtrText } from '../../src/cli/atr-command.ts';
import { exitCodeOf, CARD_EXIT } from '../../src/cli/card-cli.ts';
import { nationalErrorCode } from '../../src/services/index.ts';
import { checkPowerUpAtr } from '../../src/card/atr-check.ts';
import { TerminalError } from '../../src/errors.ts';

/** The example card answering reset with `mangle(ATR)` instead of its own ATR. */
function withAtr(mangle: (atr: Uint8Array) => Uint8Array): ReaderCard {
  const c = card('ssc-2.00.json', 0);
  return { reset: () => mangle(c.reset()), transmit: (apdu) => c.transmit(apdu) };
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();

// Held-out conformance run: TS = 42 read with exit 0; a truncated ATR failed late as "dispersion factors".
for (const [name, mangle] of [
  ['TS = 42', (a: Uint8Array) => Uint8Array.of(0x42, ...a.subarray(1))],
  ['truncated inside the historical bytes', (a: Uint8Array) => a.slice(0, 6)],
  ['historical byte count beyond the bytes sent', (a: Uint8Array) => Uint8Array.of(a[0]!, (a[1]! & 0xf0) | 0x0f, ...a.subarray(2))],
] as const) {
  t.test(`[7816-3 §8] a malformed ATR (${name}) is refused at power-up with the verdict of onecard-terminal atr`, async (t) => {
    const atr = mangle(card('ssc-2.00.json', 0).reset());
    const verdict = JSON.parse(analyseAtrText(hex(atr), true).output) as { valid: boolean; findingDetails: { code: string; severity: string }[] };
    t.equal(verdict.valid, false, 'the atr command calls it invalid');
    const out = await runOnMemory('gempc-twin', withAtr(mangle), []);
    t.equal(out.ok, false, 'the read does not succeed');
    if (out.ok) return;
    t.equal(out.code, 'TERM_ERR_CARD_ATR');
    t.equal(out.apdus, 0, 'no APDU reached the card');
    let err: unknown;
    try {
      checkPowerUpAtr(atr, 0);
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof TerminalError);
    const first = verdict.findingDetails.find((f) => f.severity === 'error')!.code;
    t.equal((err as TerminalError).details['finding'], first, 'same first finding as the atr command');
    t.match((err as TerminalError).message, new RegExp(`malformed \\(${first}\\)`));
    t.equal(exitCodeOf(err), CARD_EXIT.card, 'read-card exits 4 (card problem)');
    t.equal(nationalErrorCode(err), -3);
  });
}

t.test('a valid ATR still powers up and reads', async (t) => {
  const out = await runOnMemory('gempc-twin', withAtr((a) => a), []);
  t.ok(out.ok, out.ok ? 'read' : out.code);
});
