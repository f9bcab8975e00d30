// The simulated PIN pad's side of the OneCard PIN pad line protocol: keys are ignored without a
// prompt, counts (never digits) go out per key, correction, Enter below the minimum ignored,
// digits past the maximum ignored, Cancel, ABORT from the terminal, bad keys refused (the
// pseudo-terminal adapter runs in the terminal's screens suite).
import t from 'tap';
import { createPinPadCore } from '../../src/pinpad/index.ts';

const dec = new TextDecoder();
const text = (writes: readonly Uint8Array[]): string => writes.map((w) => dec.decode(w)).join('');
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

t.test('entry: prompt, counts, correction, Enter', async (t) => {
  const pad = createPinPadCore();
  t.equal(text(pad.press('123E').writes), '', 'keys without a prompt are ignored');
  const step = pad.receive(enc('ENTER 4 6\r\n'));
  t.same(step.events, [{ type: 'prompt', minLength: 4, maxLength: 6 }]);
  t.same(pad.status(), { prompting: true, count: 0, minLength: 4, maxLength: 6, prompts: 1 });
  t.equal(text(pad.press('123').writes), 'KEY 1\nKEY 2\nKEY 3\n');
  t.equal(text(pad.press('E').writes), '', 'Enter below the minimum length is ignored');
  t.equal(text(pad.press('B4').writes), 'KEY 2\nKEY 3\n', 'correction takes the last digit off');
  t.equal(text(pad.press('5678').writes), 'KEY 4\nKEY 5\nKEY 6\n', 'digits past the maximum are ignored');
  const done = pad.press('E');
  t.equal(text(done.writes), 'PIN 124567\n');
  t.same(done.events, [{ type: 'entered', length: 6 }], 'the event says how long, not what');
  t.equal(pad.status().prompting, false);
});

t.test('Cancel on the pad, ABORT from the terminal, junk lines, bad keys', async (t) => {
  const pad = createPinPadCore();
  pad.receive(enc('ENTER 4 12\n'));
  pad.press('12');
  t.equal(text(pad.press('C').writes), 'CANCEL\n');
  t.equal(text(pad.press('3E').writes), '', 'nothing after Cancel until the next prompt');
  pad.receive(enc('ENTER 4 12\n'));
  pad.press('99');
  t.same(pad.receive(enc('ABORT\n')).events, [{ type: 'abort' }]);
  t.same(pad.status().count, 0, 'ABORT clears the digits');
  t.same(pad.receive(enc('ENTER 9 4\nHELLO\n')).events, [{ type: 'line-ignored', length: 9 }, { type: 'line-ignored', length: 5 }], 'min over max and unknown lines ignored');
  t.throws(() => pad.press('12x'), { code: 'SIM_ERR_PINPAD_KEY' });
});
