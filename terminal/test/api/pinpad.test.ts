// The PIN pad seam: the holder's PIN services with the PIN taken from a PIN pad device over the
// OneCard PIN pad line protocol (terminal/src/pinpad/line-pinpad.ts) talking to the simulated
// pad's core (simulators/src/pinpad), through the real local API on simulated cards. Checks that
// the PIN never passes through the caller (no PIN accepted in the body, progress carries counts
// only), tries left and lock-out, cancel by the page and on the pad, card removed mid-entry, the
// timeout, busy, the two new PINs disagreeing, no pad configured, the pad unplugged, the config
// switch, and that no PIN reaches the log.
import t from 'tap';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { createCardFromFile, createPinPadCore, t0Transmit, type PinPadCore, type SimulatedCard } from '@onecard/simulators';
import { buildLocalApi, type CardAccess, type LocalApiOptions } from '../../src/api/index.ts';
import { createMemoryChannel } from '../../src/card/memory-channel.ts';
import { TerminalError } from '../../src/errors.ts';
import { createLinePinPad, PinEntry, type PinEntryProgress, type PinPadPort } from '../../src/pinpad/index.ts';
import { parseTerminalConfig } from '../../src/runtime/config.ts';

const cardFile = (name: string): string => fileURLToPath(new URL(`../../../simulators/cards/${name}`, import.meta.url));
const TOKEN = 'pinpad-test-token-0123456789abcdef';
const H = { 'x-onecard-token': TOKEN };
const CARD = 'ssc-2.00.json';

/** A serial line between the terminal's driver and the simulated pad's core. */
function wire(core: PinPadCore): { port: PinPadPort; press(keys: string): void; unplug(): void } {
  const ev = new EventEmitter();
  const deliver = (writes: readonly Uint8Array[]): void => {
    for (const w of writes) setImmediate(() => ev.emit('data', Buffer.from(w)));
  };
  return {
    port: {
      write: (s: string) => void deliver(core.receive(new TextEncoder().encode(s)).writes),
      on: (e: string, f: (...a: never[]) => void) => ev.on(e, f as (...a: unknown[]) => void),
      close: () => undefined,
    } as PinPadPort,
    press: (keys) => deliver(core.press(keys).writes),
    unplug: () => void ev.emit('close'),
  };
}

async function setup(o: { pad?: boolean; timeoutMs?: number } & Partial<LocalApiOptions> = {}) {
  const logs: string[] = [];
  const logger = pino({ level: 'trace' }, new Writable({ write(chunk, _e, cb) { logs.push(String(chunk)); cb(); } }));
  const card: SimulatedCard = createCardFromFile(cardFile(CARD));
  const psam: SimulatedCard = createCardFromFile(cardFile('psam.json'));
  const channel = (c: SimulatedCard) => createMemoryChannel(c, c.protocol === 0 ? { t0: (tpdu) => t0Transmit(c, tpdu) } : {});
  const pin = (JSON.parse((await import('node:fs')).readFileSync(cardFile(CARD), 'utf8')) as { pin: string }).pin;
  let present = true;
  const events = new EventEmitter();
  const access: CardAccess = {
    events,
    status: () => [{ readerId: 'r', slots: [{ slot: 0, role: 'user', present }, { slot: 1, role: 'psam', present: true }] }],
    async withCard(fn) {
      if (!present) throw new TerminalError('TERM_ERR_NO_CARD');
      return fn({ card: channel(card), psam: channel(psam) });
    },
  };
  const core = createPinPadCore();
  const line = wire(core);
  const entry = o.pad === false ? undefined : new PinEntry(createLinePinPad(line.port, { logger }), { timeoutMs: o.timeoutMs ?? 10_000 });
  const progress: PinEntryProgress[] = [];
  entry?.events.on('progress', (p: PinEntryProgress) => progress.push(p));
  const reported: string[] = [];
  const app = await buildLocalApi({
    readers: access, token: TOKEN, logger,
    ...(entry === undefined ? {} : { pinpad: entry }),
    reportLoss: async ({ cardNumber }) => { reported.push(cardNumber); return { online: false }; },
    ...o,
  });
  t.teardown(() => app.close());
  /** Waits until the pad shows a prompt (the terminal sent ENTER), `n` prompts in all. */
  const prompted = async (n: number): Promise<void> => {
    for (let i = 0; i < 500 && !(core.status().prompting && core.status().prompts >= n); i++) await new Promise((r) => setTimeout(r, 5));
    if (!core.status().prompting) throw new Error('the pad was never prompted');
  };
  const post = (url: string, payload: Record<string, unknown> = {}) => app.inject({ method: 'POST', url, headers: H, payload });
  return {
    app, logs, pin, core, line, progress, reported, post, prompted,
    removeCard: () => { present = false; events.emit('card-removed', { readerId: 'r', slot: 0 }); },
    removePsam: () => events.emit('card-removed', { readerId: 'r', slot: 1 }),
  };
}
const code = (r: { json(): unknown }): string => (r.json() as { error: { code: string } }).error.code;

t.test('verify on the pad: the PIN goes pad → card; the page sees counts only', async (t) => {
  const s = await setup();
  t.same((await s.app.inject({ url: '/v1/pinpad', headers: H })).json(), { present: true, connected: true, busy: false });
  const answer = s.post('/v1/card/pinpad/verify');
  await s.prompted(1);
  s.line.press(`${s.pin.slice(0, -1)}9B${s.pin.slice(-1)}E`);
  const r = await answer;
  t.equal(r.statusCode, 200, r.body);
  t.same(r.json(), { ok: true });
  t.same(s.progress.map((p) => p.state), ['prompt', ...Array.from({ length: s.pin.length + 2 }, () => 'key'), 'done']);
  t.same(s.progress.filter((p) => p.state === 'key').map((p) => (p as { count: number }).count), [...Array.from({ length: s.pin.length }, (_, i) => i + 1), s.pin.length - 1, s.pin.length], 'counts, the correction included');
  t.notMatch(JSON.stringify(s.progress), s.pin, 'no PIN in any progress event');
  t.notMatch(s.logs.join(''), s.pin, 'no PIN in the log');
  // The page cannot hand a PIN to the pad routes: the body must be empty.
  const withPin = await s.post('/v1/card/pinpad/verify', { pin: s.pin });
  t.equal(withPin.statusCode, 400, 'a PIN in the body is refused');
  t.equal(code(withPin), 'TERM_ERR_API_BAD_REQUEST');
});

t.test('wrong PIN on the pad: tries left; the third wrong one locks; a locked PIN is refused before any prompt', async (t) => {
  const s = await setup();
  for (const left of [2, 1]) {
    const answer = s.post('/v1/card/pinpad/verify');
    await s.prompted(3 - left);
    s.line.press('000000E');
    const r = await answer;
    t.equal(r.statusCode, 422);
    t.equal(code(r), 'TERM_ERR_PIN_WRONG');
    t.equal((r.json() as { error: { details: { triesLeft: number } } }).error.details.triesLeft, left, `${left} tries left`);
  }
  const last = s.post('/v1/card/pinpad/verify');
  await s.prompted(3);
  s.line.press('000000E');
  t.equal(code(await last), 'TERM_ERR_PIN_LOCKED');
  const prompts = s.core.status().prompts;
  const locked = await s.post('/v1/card/pinpad/verify');
  t.equal(code(locked), 'TERM_ERR_PIN_LOCKED', 'locked: refused at once');
  t.equal(s.core.status().prompts, prompts, 'the pad was not prompted for a locked PIN');
});

t.test('cancel: by the page, on the pad, by taking the card out; timeout; busy', async (t) => {
  const s = await setup({ timeoutMs: 300 });
  let answer = s.post('/v1/card/pinpad/verify');
  await s.prompted(1);
  s.line.press('12');
  const busy = await s.post('/v1/card/pinpad/verify');
  t.equal(busy.statusCode, 409);
  t.equal(code(busy), 'TERM_ERR_PINPAD_BUSY', 'one entry at a time');
  t.same((await s.post('/v1/pinpad/cancel')).json(), { cancelled: true });
  let r = await answer;
  t.equal(r.statusCode, 409);
  t.equal(code(r), 'TERM_ERR_PINPAD_CANCELLED', 'cancelled by the page');
  t.equal(s.core.status().prompting, false, 'the pad was told to stop (ABORT)');
  t.same((await s.post('/v1/pinpad/cancel')).json(), { cancelled: false }, 'nothing left to cancel');

  answer = s.post('/v1/card/pinpad/verify');
  await s.prompted(2);
  s.line.press('12C');
  t.equal(code(await answer), 'TERM_ERR_PINPAD_CANCELLED', 'Cancel pressed on the pad');

  answer = s.post('/v1/card/pinpad/verify');
  await s.prompted(3);
  s.removePsam();
  s.line.press('1');
  await new Promise((res) => setTimeout(res, 20));
  t.equal(s.core.status().prompting, true, 'a PSAM event does not end the entry');
  s.removeCard();
  r = await answer;
  t.equal(code(r), 'TERM_ERR_CARD_REMOVED', 'the card left during entry');
  t.equal(s.core.status().prompting, false);

  const t2 = await setup({ timeoutMs: 150 });
  const late = t2.post('/v1/card/pinpad/verify');
  await t2.prompted(1);
  r = await late;
  t.equal(r.statusCode, 408);
  t.equal(code(r), 'TERM_ERR_PINPAD_TIMEOUT', 'nobody typed in time');
  t.equal(t2.core.status().prompting, false);
});

t.test('change PIN on the pad: current PIN checked first, the new ones must agree, then the card takes the new PIN', async (t) => {
  const s = await setup();
  let answer = s.post('/v1/card/pinpad/change');
  await s.prompted(1);
  s.line.press(`${s.pin}E`);
  await s.prompted(2);
  s.line.press('135790E');
  await s.prompted(3);
  s.line.press('135791E');
  let r = await answer;
  t.equal(r.statusCode, 422);
  t.equal(code(r), 'TERM_ERR_PIN_MISMATCH', 'two new PINs differ: nothing changed');
  t.same(s.progress.filter((p) => p.state === 'prompt').map((p) => p.purpose), ['old', 'new', 'again'], 'the page learns which PIN is asked for');

  answer = s.post('/v1/card/pinpad/change');
  await s.prompted(4);
  s.line.press('999999E');
  r = await answer;
  t.equal(code(r), 'TERM_ERR_PIN_WRONG', 'a wrong current PIN stops before the new one is asked');
  t.equal(s.core.status().prompts, 4);

  answer = s.post('/v1/card/pinpad/change');
  await s.prompted(5);
  s.line.press(`${s.pin}E`);
  await s.prompted(6);
  s.line.press('135790E');
  await s.prompted(7);
  s.line.press('135790E');
  r = await answer;
  t.equal(r.statusCode, 200, r.body);
  t.equal((await s.post('/v1/card/pin/verify', { pin: '135790' })).statusCode, 200, 'the card takes the new PIN');
  t.notMatch(s.logs.join(''), '135790', 'no new PIN in the log');
});

t.test('loss report with the PIN from the pad', async (t) => {
  const s = await setup();
  const answer = s.post('/v1/card/pinpad/loss-report');
  await s.prompted(1);
  s.line.press(`${s.pin}E`);
  const r = await answer;
  t.equal(r.statusCode, 200, r.body);
  t.match(r.json(), { queued: true, online: false, cardNumber: /^\*+\w{4}$/ });
  t.equal(s.reported.length, 1, 'queued for the fleet');
});

t.test('no pad configured: 501; pad unplugged: TERM_ERR_PINPAD_UNAVAILABLE', async (t) => {
  const none = await setup({ pad: false });
  t.same((await none.app.inject({ url: '/v1/pinpad', headers: H })).json(), { present: false, connected: false, busy: false });
  const r = await none.post('/v1/card/pinpad/verify');
  t.equal(r.statusCode, 501);
  t.equal(code(r), 'TERM_ERR_API_NOT_CONFIGURED');

  const s = await setup();
  const answer = s.post('/v1/card/pinpad/verify');
  await s.prompted(1);
  s.line.unplug();
  const gone = await answer;
  t.equal(gone.statusCode, 503);
  t.equal(code(gone), 'TERM_ERR_PINPAD_UNAVAILABLE', 'unplugged mid-entry');
  t.same((await s.app.inject({ url: '/v1/pinpad', headers: H })).json(), { present: true, connected: false, busy: false });
  t.equal(code(await s.post('/v1/card/pinpad/verify')), 'TERM_ERR_PINPAD_UNAVAILABLE');
});

t.test('line protocol: a malformed PIN line or an over-long line is a protocol error, not a PIN', async (t) => {
  const ev = new EventEmitter();
  const written: string[] = [];
  const pad = createLinePinPad({ write: (s: string) => void written.push(s), on: (e: string, f: (...a: never[]) => void) => ev.on(e, f as (...a: unknown[]) => void), close: () => undefined } as PinPadPort);
  const read = () => pad.readPin({ minLength: 4, maxLength: 12, signal: new AbortController().signal, onKey: () => undefined });
  let p = read();
  t.same(written, ['ENTER 4 12\n']);
  ev.emit('data', Buffer.from('PIN 12a4\n'));
  await t.rejects(p, { code: 'TERM_ERR_PINPAD_PROTOCOL' });
  p = read();
  ev.emit('data', Buffer.from('PIN 123\r\n'));
  await t.rejects(p, { code: 'TERM_ERR_PINPAD_PROTOCOL' }, 'shorter than the minimum');
  p = read();
  ev.emit('data', Buffer.from('K'.repeat(80)));
  await t.rejects(p, { code: 'TERM_ERR_PINPAD_PROTOCOL' }, 'line too long');
  p = read();
  ev.emit('data', Buffer.from('PIN 4'));
  ev.emit('data', Buffer.from('321\r\n'));
  t.equal(await p, '4321', 'a line split over two reads');
});

t.test('config: pinpad section', async (t) => {
  const base = { terminalId: 't1', readers: [{ id: 'r', link: 'serial', path: '/dev/ttyUSB0' }] };
  t.same(parseTerminalConfig({ ...base, pinpad: { link: 'serial', path: '/dev/ttyUSB1' } }).pinpad, { link: 'serial', path: '/dev/ttyUSB1', baudRate: 9600, timeoutSeconds: 60 });
  t.equal(parseTerminalConfig(base).pinpad, undefined, 'no pad unless configured');
  t.throws(() => parseTerminalConfig({ ...base, pinpad: { link: 'usb', path: 'x' } }), { code: 'TERM_ERR_CONFIG', details: { field: 'pinpad.link' } });
  t.throws(() => parseTerminalConfig({ ...base, pinpad: { link: 'serial', path: 'x', timeoutSeconds: 1 } }), { code: 'TERM_ERR_CONFIG', details: { field: 'pinpad.timeoutSeconds' } });
});
