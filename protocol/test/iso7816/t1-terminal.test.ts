import t from 'tap';
import { fromHex, toHex, concat } from '../../src/bytes.ts';
import type { T1Block } from '../../src/iso7816/t1-block.ts';
import { decodeT1Block, describeT1Block, encodeT1Block } from '../../src/iso7816/t1-block.ts';
import type { T1TerminalEffect, T1TerminalParams, T1TerminalState } from '../../src/iso7816/t1.ts';
import { t1BlockTimeoutMs, t1Terminal, t1TerminalStep, t1Timing } from '../../src/iso7816/t1.ts';

const I = (ns: 0 | 1, inf: Uint8Array | string, more = false): T1Block =>
  ({ kind: 'I', nad: 0, ns, more, inf: typeof inf === 'string' ? fromHex(inf) : inf });
const R = (nr: 0 | 1, error: 'none' | 'edc' | 'other' = 'none'): T1Block => ({ kind: 'R', nad: 0, nr, error });
const Sv = (type: 'ifs' | 'wtx', response: boolean, value: number): T1Block => ({ kind: 'S', nad: 0, type, response, value });
const Sp = (type: 'resynch' | 'abort', response: boolean): T1Block => ({ kind: 'S', nad: 0, type, response });
const seq = (n: number, start = 0): Uint8Array => new Uint8Array(n).map((_, i) => (start + i) & 0xff);

/** A terminal under test: keeps the state, records effects, decodes what it transmits. */
class Term {
  state: T1TerminalState;
  effects: readonly T1TerminalEffect[] = [];
  constructor(params: T1TerminalParams = {}) {
    this.state = t1Terminal(params);
  }
  #run(ev: Parameters<typeof t1TerminalStep>[1]): this {
    const r = t1TerminalStep(this.state, ev);
    this.state = r.state;
    this.effects = r.effects;
    return this;
  }
  send(apdu: Uint8Array | string): this {
    return this.#run({ type: 'send-apdu', apdu: typeof apdu === 'string' ? fromHex(apdu) : apdu });
  }
  feed(block: T1Block, edc: 'lrc' | 'crc' = 'lrc'): this {
    return this.#run({ type: 'block-received', bytes: encodeT1Block(block, edc) });
  }
  raw(bytes: Uint8Array | string, parityError?: boolean): this {
    const b = typeof bytes === 'string' ? fromHex(bytes) : bytes;
    return this.#run(parityError === undefined ? { type: 'block-received', bytes: b } : { type: 'block-received', bytes: b, parityError });
  }
  timeout(): this {
    return this.#run({ type: 'timeout' });
  }
  /** Blocks transmitted by the last step, described. */
  get sent(): string[] {
    return this.effects.flatMap((e) => (e.type === 'transmit' ? [describeT1Block(decodeT1Block(e.bytes, { edc: 'lrc' }))] : []));
  }
  get sentBlocks(): T1Block[] {
    return this.effects.flatMap((e) => (e.type === 'transmit' ? [decodeT1Block(e.bytes, { edc: 'lrc' })] : []));
  }
  get sentHex(): string[] {
    return this.effects.flatMap((e) => (e.type === 'transmit' ? [toHex(e.bytes)] : []));
  }
  get outcome(): string | undefined {
    for (const e of this.effects) {
      if (e.type === 'deliver-response') return `response ${toHex(e.apdu)}`;
      if (e.type === 'error') return e.code;
    }
    return undefined;
  }
}

t.test('[7816-3 §11.6.2 rule 1] simple exchange: one I-block each way', async (t) => {
  const term = new Term();
  term.send('00A4040002 3F00');
  t.same(term.sentHex, ['00000700A40400023F009A']);
  const tx = term.effects[0]!;
  t.same(tx.type === 'transmit' && { timeoutMs: tx.timeoutMs, wtx: tx.wtx }, { timeoutMs: t1BlockTimeoutMs(t1Timing(), 1), wtx: 1 });
  t.equal(term.state.phase, 'sending');
  term.feed(I(0, '6A82'));
  t.equal(term.outcome, 'response 6A82', 'status words are data');
  t.equal(term.state.phase, 'idle');
  t.same([term.state.link.ns, term.state.link.nr], [1, 1]);
  term.send('0084000008');
  t.same(term.sent, ['I(1) 5B'], '[7816-3 §11.6.2 rule 2] N(S) alternates');
  term.feed(I(1, '1122334455667788 9000'));
  t.equal(term.outcome, 'response 11223344556677889000');
  t.same([term.state.link.ns, term.state.link.nr], [0, 0]);
});

t.test('[7816-3 §11.6.2 rule 5] chained command cut at IFSC', async (t) => {
  const term = new Term({ ifsc: 16 });
  const apdu = seq(40);
  term.send(apdu);
  t.same(term.sent, ['I(0,M) 16B']);
  const parts = [term.sentBlocks[0]!];
  term.feed(R(1));
  t.same(term.sent, ['I(1,M) 16B']);
  parts.push(term.sentBlocks[0]!);
  term.feed(R(0));
  t.same(term.sent, ['I(0) 8B']);
  parts.push(term.sentBlocks[0]!);
  t.equal(toHex(concat(...parts.map((b) => (b.kind === 'I' ? b.inf : new Uint8Array(0))))), toHex(apdu));
  term.feed(I(0, '9000'));
  t.equal(term.outcome, 'response 9000');
});

t.test('[7816-3 §11.6.2 rule 5] chained response acknowledged with R-blocks', async (t) => {
  const term = new Term();
  term.send('00B0000000');
  term.feed(I(0, seq(32), true));
  t.same(term.sent, ['R(1)']);
  term.feed(I(1, seq(32, 32), true));
  t.same(term.sent, ['R(0)']);
  term.feed(I(0, concat(seq(8, 64), fromHex('9000'))));
  t.equal(term.outcome, `response ${toHex(concat(seq(72), fromHex('9000')))}`);
});

t.test('[7816-3 §11.6.2 rule 3] WTX: acknowledged, multiplier reported for the next wait only', async (t) => {
  const term = new Term();
  const timing = t1Timing();
  term.send('80CA000000');
  term.feed(Sv('wtx', false, 3));
  t.same(term.sent, ['S(wtx resp 3)']);
  const e = term.effects[0]!;
  t.ok(e.type === 'transmit' && e.wtx === 3 && e.timeoutMs === t1BlockTimeoutMs(timing, 3));
  t.ok(t1BlockTimeoutMs(timing, 3) > t1BlockTimeoutMs(timing, 1));
  term.timeout();
  const r = term.effects[0]!;
  t.ok(r.type === 'transmit' && r.wtx === 1 && r.timeoutMs === t1BlockTimeoutMs(timing, 1), 'multiplier reset after one wait');
  term.feed(I(0, '9000'));
  t.equal(term.outcome, 'response 9000');
});

t.test('[7816-3 §11.6.2 rule 3] WTX in the middle of a command chain', async (t) => {
  const term = new Term({ ifsc: 16 });
  term.send(seq(20));
  term.feed(Sv('wtx', false, 2));
  t.same(term.sent, ['S(wtx resp 2)']);
  term.feed(R(1));
  t.same(term.sent, ['I(1) 4B']);
  term.feed(I(0, '9000'));
  t.equal(term.outcome, 'response 9000');
});

t.test('[7816-3 §11.6.2 rule 4] IFSD announced with S(IFS request) before the first exchange', async (t) => {
  const term = new Term({ ifsd: 254 });
  term.send('00B0000000');
  t.same(term.sentHex, ['00C101FE3E']);
  term.feed(Sv('ifs', true, 254));
  t.same(term.sent, ['I(0) 5B']);
  t.equal(term.state.link.ifsd, 254);
  term.feed(I(0, concat(seq(200), fromHex('9000'))));
  t.equal(term.outcome, `response ${toHex(concat(seq(200), fromHex('9000')))}`);
  term.send('00B0000000');
  t.same(term.sent, ['I(1) 5B'], 'negotiated once');
});

t.test('[7816-3 §11.6.2 rule 4] IFS echo mismatch: request sent again', async (t) => {
  const term = new Term({ ifsd: 254 });
  term.send('00B0000000');
  term.feed(Sv('ifs', true, 32));
  t.same(term.sentHex, ['00C101FE3E']);
  term.timeout();
  t.same(term.sentHex, ['00C101FE3E']);
  term.feed(Sv('ifs', true, 254));
  t.same(term.sent, ['I(0) 5B']);
});

t.test('[7816-3 §11.6.2 rule 4] card S(IFS request) in the middle of a transfer changes IFSC', async (t) => {
  const term = new Term({ ifsc: 16 });
  term.send(seq(40));
  t.same(term.sent, ['I(0,M) 16B']);
  term.feed(Sv('ifs', false, 8));
  t.same(term.sent, ['S(ifs resp 8)']);
  t.equal(term.state.link.ifsc, 8);
  term.feed(R(1));
  t.same(term.sent, ['I(1,M) 8B']);
});

t.test('IFSD not negotiated: INF over 32 is an invalid block [7816-3 §11.6.3 rule 7.1]', async (t) => {
  const term = new Term();
  term.send('00B0000000');
  term.feed(I(0, seq(40)));
  t.same(term.sent, ['R(0,other)']);
});

t.test('[7816-3 §11.6.3 rule 7.1] bad EDC: R-block with EDC error, then the resent block is accepted', async (t) => {
  const term = new Term();
  term.send('00B0000000');
  const good = encodeT1Block(I(0, '9000'), 'lrc');
  const bad = good.slice();
  bad[3] = bad[3]! ^ 0x01;
  term.raw(bad);
  t.same(term.sentHex, ['00810081']);
  term.raw(good);
  t.equal(term.outcome, 'response 9000');
});

t.test('[7816-3 §11.6.3 rule 7.1] parity error flagged by the reader: R-block with EDC error', async (t) => {
  const term = new Term();
  term.send('00B0000000');
  term.raw(encodeT1Block(I(0, '9000'), 'lrc'), true);
  t.same(term.sent, ['R(0,edc)']);
});

t.test('[7816-3 §11.6.3 rule 7.1] timeout: R-block asking for the expected block', async (t) => {
  const term = new Term();
  term.send('00B0000000');
  term.timeout();
  t.same(term.sent, ['R(0)']);
  term.feed(I(0, '9000'));
  t.equal(term.outcome, 'response 9000');
});

t.test('[7816-3 §11.6.3 rule 7.1] wrong N(S), LEN = FF, wrong NAD, truncated: R-block with other error', async (t) => {
  for (const [name, bytes] of [
    ['wrong N(S)', encodeT1Block(I(1, '9000'), 'lrc')],
    ['LEN = FF', fromHex('0000FF FF')],
    ['wrong NAD', encodeT1Block({ ...I(0, '9000'), nad: 0x10 } as T1Block, 'lrc')],
    ['truncated', encodeT1Block(I(0, '9000'), 'lrc').subarray(0, 4)],
    ['R-block with bit 20', fromHex('00A000A0')],
  ] as const) {
    const term = new Term();
    term.send('00B0000000');
    term.raw(bytes);
    t.same(term.sent, ['R(0,other)'], name);
  }
});

t.test('[7816-3 §11.6.3 rule 7.2] after an R-block, an invalid block makes the terminal resend the same R-block', async (t) => {
  const term = new Term();
  term.send('00B0000000');
  term.feed(I(0, seq(32), true));
  t.same(term.sentHex, ['00900090']);
  term.raw('00 00 02 90 00 00');
  t.same(term.sentHex, ['00900090'], 'not R(1,edc): the previous R-block again');
  term.timeout();
  t.same(term.sentHex, ['00900090']);
  term.feed(R(0));
  t.same(term.sentHex, ['00900090'], 'card R-block while receiving: our R-block again');
});

t.test('[7816-3 §11.6.3 rule 7.1] R-block naming our last I-block: that I-block is sent again', async (t) => {
  const term = new Term();
  term.send('00B0000000');
  const first = term.sentHex;
  term.timeout();
  t.same(term.sent, ['R(0)']);
  term.feed(R(0));
  t.same(term.sentHex, first, 'the same bytes');
  term.feed(I(0, '9000'));
  t.equal(term.outcome, 'response 9000');
});

t.test('[7816-3 §11.6.3 rule 7.4.2] three recovery attempts, then S(RESYNCH request)', async (t) => {
  const term = new Term();
  term.send('00B0000000');
  term.timeout();
  t.same(term.sent, ['R(0)']);
  term.timeout();
  t.same(term.sent, ['R(0)']);
  term.timeout();
  t.same(term.sent, ['R(0)']);
  term.timeout();
  t.same(term.sentHex, ['00C000C0']);
  t.equal(term.state.phase, 'resynch');
});

t.test('[7816-3 §11.6.3 rule 6.3] resynchronised before the command was complete: whole command sent again', async (t) => {
  const term = new Term({ ifsc: 16 });
  const apdu = seq(40);
  term.send(apdu);
  term.feed(R(1));
  t.same(term.sent, ['I(1,M) 16B']);
  for (let i = 0; i < 4; i++) term.timeout();
  t.same(term.sent, ['S(resynch req)']);
  term.feed(Sp('resynch', true));
  t.same(term.sent, ['I(0,M) 16B'], 'N(S) back to 0, from the first byte');
  const b = term.sentBlocks[0]!;
  t.equal(b.kind === 'I' && toHex(b.inf), toHex(apdu.subarray(0, 16)));
  t.same([term.state.link.ns, term.state.link.nr], [1, 0]);
});

t.test('[7816-3 §11.6.3 rule 6.2] resynchronisation resets IFS and renegotiates IFSD', async (t) => {
  const term = new Term({ ifsd: 200, ifsc: 16 });
  term.send(seq(40));
  term.feed(Sv('ifs', true, 200));
  term.feed(Sv('ifs', false, 100));
  t.equal(term.state.link.ifsc, 100);
  for (let i = 0; i < 4; i++) term.timeout();
  term.feed(Sp('resynch', true));
  t.same(term.sent, ['S(ifs req 200)']);
  t.same([term.state.link.ifsc, term.state.link.ifsd], [16, 32]);
});

t.test('[7816-3 §11.6.3 rule 6.3] resynchronised after the last command block: outcome unknown, never replayed', async (t) => {
  const term = new Term();
  term.send('805000000B0100000064112233445566');
  for (let i = 0; i < 4; i++) term.timeout();
  term.feed(Sp('resynch', true));
  t.equal(term.outcome, 'PROTO_ERR_T1_OUTCOME_UNKNOWN');
  t.same(term.sent, [], 'the command is not sent again');
  t.equal(term.state.phase, 'idle');
  term.send('00B0000000');
  t.same(term.sent, ['I(0) 5B'], 'the link is usable, from N(S) = 0');
});

t.test('[7816-3 §11.6.3 rule 6.4] resynchronisation fails three times: channel dead', async (t) => {
  const term = new Term();
  term.send('00B0000000');
  for (let i = 0; i < 4; i++) term.timeout();
  t.same(term.sent, ['S(resynch req)']);
  term.timeout();
  t.same(term.sent, ['S(resynch req)']);
  term.feed(I(0, '9000'));
  t.same(term.sent, ['S(resynch req)'], 'anything but S(RESYNCH response) counts as a failure');
  term.timeout();
  t.equal(term.outcome, 'PROTO_ERR_T1_DEAD');
  t.equal(term.state.phase, 'dead');
  term.send('00B0000000');
  t.equal(term.outcome, 'PROTO_ERR_T1_DEAD');
  term.feed(I(0, '9000'));
  t.same(term.effects, [], 'blocks ignored once dead');
});

t.test('[7816-3 §11.6.3 rule 9] card S(ABORT request): acknowledged, exchange ends with ABORTED', async (t) => {
  const term = new Term({ ifsc: 16 });
  term.send(seq(40));
  term.feed(Sp('abort', false));
  t.same(term.sent, ['S(abort resp)']);
  const e = term.effects[0]!;
  t.ok(e.type === 'transmit' && e.timeoutMs === null, 'no answer expected');
  t.equal(term.outcome, 'PROTO_ERR_T1_ABORTED');
  t.equal(term.state.phase, 'idle');
});

t.test('[7816-3 §11.6.3 rule 9] response over the limit: terminal aborts the chain', async (t) => {
  const term = new Term({ maxResponseLength: 40 });
  term.send('00B0000000');
  term.feed(I(0, seq(32), true));
  term.feed(I(1, seq(32), true));
  t.same(term.sentHex, ['00C200C2']);
  term.timeout();
  t.same(term.sentHex, ['00C200C2'], 'unanswered S(ABORT request) sent again');
  term.feed(Sp('abort', true));
  t.equal(term.outcome, 'PROTO_ERR_T1_RESPONSE_TOO_LONG');
  const t2 = new Term({ maxResponseLength: 20 });
  t2.send('00B0000000');
  t2.feed(I(0, seq(30)));
  t.equal(t2.outcome, 'PROTO_ERR_T1_RESPONSE_TOO_LONG', 'single block over the limit');
});

t.test('[reader-link §4.4] card S(RESYNCH request), unknown S type or S(IFS 0): terminal resynchronises', async (t) => {
  for (const [name, bytes] of [
    ['S(RESYNCH request) from the card', encodeT1Block(Sp('resynch', false), 'lrc')],
    ['unknown S type', fromHex('00C500C5')],
    ['S(IFS request, 0)', fromHex('00C10100C0')],
  ] as const) {
    const term = new Term();
    term.send('00B0000000');
    term.raw(bytes);
    t.same(term.sent, ['S(resynch req)'], name);
  }
});

t.test('unsolicited S-response and R-block acknowledging the last block are errors [7816-3 §11.6.3 rule 7.1]', async (t) => {
  const term = new Term();
  term.send('00B0000000');
  term.feed(Sv('wtx', true, 1));
  t.same(term.sent, ['R(0,other)']);
  const t2 = new Term();
  t2.send('00B0000000');
  t2.feed(R(1));
  t.same(t2.sent, ['R(0,other)']);
  const t3 = new Term({ ifsc: 16 });
  t3.send(seq(20));
  t3.feed(I(0, '9000'));
  t.same(t3.sent, ['R(0,other)'], 'I-block instead of the chain acknowledgement');
});

t.test('CRC links and NAD addressing', async (t) => {
  const term = new Term({ edc: 'crc', nad: 0x12 });
  term.send('00B0000000');
  const e = term.effects[0]!;
  t.ok(e.type === 'transmit');
  if (e.type !== 'transmit') return;
  t.same(decodeT1Block(e.bytes, { edc: 'crc' }), { kind: 'I', nad: 0x12, ns: 0, more: false, inf: fromHex('00B0000000') });
  term.raw(encodeT1Block({ kind: 'I', nad: 0x21, ns: 0, more: false, inf: fromHex('9000') }, 'crc'));
  t.equal(term.outcome, 'response 9000');
});

t.test('misuse yields coded errors; stale events are ignored', async (t) => {
  const term = new Term();
  term.timeout();
  t.same(term.effects, []);
  term.feed(I(0, '9000'));
  t.same(term.effects, []);
  term.send(new Uint8Array(0));
  t.equal(term.outcome, 'PROTO_ERR_T1_EMPTY_APDU');
  term.send('00B0000000');
  const before = term.state;
  term.send('00B0000000');
  t.equal(term.outcome, 'PROTO_ERR_T1_BUSY');
  t.equal(term.state, before, 'state unchanged');
  t.throws(() => t1Terminal({ ifsc: 0 }), { code: 'PROTO_ERR_T1_PARAM' });
  t.throws(() => t1Terminal({ bwi: 10 }), { code: 'PROTO_ERR_T1_PARAM' });
  t.equal(t1Terminal({ ifsc: 255 }).link.ifsc, 254, '[reader-link §2.3] IFSC 255 clamped to 254');
});

t.test('[7816-3 §11.4.3] timing: etu, BWT, CWT and the block timeout', async (t) => {
  const tm = t1Timing();
  t.ok(Math.abs(tm.etuMs - 0.093) < 1e-9);
  t.ok(Math.abs(tm.bwtMs - (11 * 0.093 + 1428.48)) < 1e-6);
  t.ok(Math.abs(tm.cwtMs - 8203 * 0.093) < 1e-6);
  t.ok(Math.abs(tm.egtMs - 12 * 0.093) < 1e-9);
  t.equal(t1BlockTimeoutMs(tm), Math.ceil(260 * 1.116 + 1429.503 + 260 * 762.879 + 1000));
  const fast = t1Timing({ fi: 512, di: 8, clockHz: 5_000_000, bwi: 2, cwi: 5, marginMs: 0, extraGuardTime: 2 });
  t.ok(Math.abs(fast.etuMs - 0.0128) < 1e-9);
  t.ok(Math.abs(fast.egtMs - (12 * 0.0128 + 64 * 2 / 5000)) < 1e-9);
  t.ok(Math.abs(fast.bwtMs - (11 * 0.0128 + (4 * 960 * 372) / 5000)) < 1e-9);
  t.equal(t1BlockTimeoutMs(t1Timing({ fi: 0 }), 2), 120_000, 'non-ISO F: 60 s times WTX');
  t.throws(() => t1Timing({ cwi: 16 }), { code: 'PROTO_ERR_T1_PARAM' });
  t.throws(() => t1Timing({ clockHz: 0 }), { code: 'PROTO_ERR_T1_PARAM' });
});
