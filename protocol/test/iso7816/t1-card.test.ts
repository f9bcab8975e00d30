import t from 'tap';
import { fromHex, toHex, concat } from '../../src/bytes.ts';
import type { T1Block } from '../../src/iso7816/t1-block.ts';
import { decodeT1Block, describeT1Block, encodeT1Block } from '../../src/iso7816/t1-block.ts';
import type { T1CardEffect, T1CardEvent, T1CardParams, T1CardState } from '../../src/iso7816/t1.ts';
import { t1Card, t1CardStep } from '../../src/iso7816/t1.ts';

const I = (ns: 0 | 1, inf: Uint8Array | string, more = false): T1Block =>
  ({ kind: 'I', nad: 0, ns, more, inf: typeof inf === 'string' ? fromHex(inf) : inf });
const R = (nr: 0 | 1, error: 'none' | 'edc' | 'other' = 'none'): T1Block => ({ kind: 'R', nad: 0, nr, error });
const Sv = (type: 'ifs' | 'wtx', response: boolean, value: number): T1Block => ({ kind: 'S', nad: 0, type, response, value });
const Sp = (type: 'resynch' | 'abort', response: boolean): T1Block => ({ kind: 'S', nad: 0, type, response });
const seq = (n: number, start = 0): Uint8Array => new Uint8Array(n).map((_, i) => (start + i) & 0xff);

class Card {
  state: T1CardState;
  effects: readonly T1CardEffect[] = [];
  constructor(params: T1CardParams = {}) {
    this.state = t1Card(params);
  }
  run(ev: T1CardEvent): this {
    const r = t1CardStep(this.state, ev);
    this.state = r.state;
    this.effects = r.effects;
    return this;
  }
  feed(block: T1Block): this {
    return this.run({ type: 'block-received', bytes: encodeT1Block(block, 'lrc') });
  }
  raw(bytes: Uint8Array | string): this {
    return this.run({ type: 'block-received', bytes: typeof bytes === 'string' ? fromHex(bytes) : bytes });
  }
  respond(apdu: Uint8Array | string): this {
    return this.run({ type: 'send-response', apdu: typeof apdu === 'string' ? fromHex(apdu) : apdu });
  }
  get sent(): string[] {
    return this.effects.flatMap((e) => (e.type === 'transmit' ? [describeT1Block(decodeT1Block(e.bytes, { edc: 'lrc' }))] : []));
  }
  get sentHex(): string[] {
    return this.effects.flatMap((e) => (e.type === 'transmit' ? [toHex(e.bytes)] : []));
  }
  get sentInf(): string {
    return toHex(concat(...this.effects.flatMap((e) => {
      if (e.type !== 'transmit') return [];
      const b = decodeT1Block(e.bytes, { edc: 'lrc' });
      return b.kind === 'I' ? [b.inf] : [];
    })));
  }
  get commands(): string[] {
    return this.effects.flatMap((e) => (e.type === 'deliver-command' ? [toHex(e.apdu)] : []));
  }
  get others(): string[] {
    return this.effects.flatMap((e) => (e.type === 'error' ? [e.code] : e.type === 'transmit' || e.type === 'deliver-command' ? [] : [e.type]));
  }
}

t.test('[7816-3 §11.6.2 rule 1] card: command delivered up, response sent in one I-block', async (t) => {
  const card = new Card();
  card.feed(I(0, '00A4040002 3F00'));
  t.same(card.commands, ['00A40400023F00']);
  t.same(card.sent, []);
  t.equal(card.state.phase, 'processing');
  card.respond('9000');
  t.same(card.sentHex, ['0000029000' + '92']);
  t.equal(card.state.phase, 'idle');
  card.feed(I(1, '0084000008'));
  t.same(card.commands, ['0084000008'], '[7816-3 §11.6.2 rule 2] next command has N(S) = 1');
  card.respond('11223344556677889000');
  t.same(card.sent, ['I(1) 10B']);
});

t.test('[7816-3 §11.6.2 rule 5] card: chained command acknowledged with R-blocks, delivered once complete', async (t) => {
  const card = new Card();
  card.feed(I(0, seq(32), true));
  t.same(card.sent, ['R(1)']);
  t.same(card.commands, []);
  card.feed(I(1, seq(32, 32), true));
  t.same(card.sent, ['R(0)']);
  card.feed(I(0, seq(6, 64)));
  t.same(card.commands, [toHex(seq(70))]);
});

t.test('[7816-3 §11.6.2 rule 5] card: chained response cut at IFSD', async (t) => {
  const card = new Card();
  card.feed(I(0, '00B0000000'));
  const resp = concat(seq(68), fromHex('9000'));
  card.respond(resp);
  t.same(card.sent, ['I(0,M) 32B']);
  let inf = card.sentInf;
  card.feed(R(1));
  t.same(card.sent, ['I(1,M) 32B']);
  inf += card.sentInf;
  card.feed(R(1));
  t.same(card.sent, ['I(1,M) 32B'], 'R-block naming the last I-block: resent');
  card.feed(R(0));
  t.same(card.sent, ['I(0) 6B']);
  inf += card.sentInf;
  t.equal(inf, toHex(resp));
  t.equal(card.state.phase, 'idle');
});

t.test('[7816-3 §11.6.2 rule 4] card: terminal S(IFS request) sets IFSD', async (t) => {
  const card = new Card();
  card.feed(Sv('ifs', false, 254));
  t.same(card.sentHex, ['00E101FE1E']);
  card.feed(I(0, '00B0000000'));
  card.respond(concat(seq(200), fromHex('9000')));
  t.same(card.sent, ['I(0) 202B']);
});

t.test('[7816-3 §11.6.2 rule 3] card: S(WTX request) while processing, response held until acknowledged', async (t) => {
  const card = new Card();
  card.feed(I(0, '80CA000000'));
  card.run({ type: 'request-wtx', multiplier: 2 });
  t.same(card.sentHex, ['00C30102C0']);
  card.respond('9000');
  t.same(card.sent, [], 'held until S(WTX response)');
  card.feed(Sv('wtx', true, 3));
  t.same(card.sentHex, ['00C30102C0'], 'wrong echo: request sent again');
  card.feed(R(0));
  t.same(card.sentHex, ['00C30102C0'], 'R-block: request sent again');
  card.feed(Sv('wtx', true, 2));
  t.same(card.sent, ['I(0) 2B']);
});

t.test('[7816-3 §11.6.2 rule 4] card: S(IFS request) announces a larger IFSC', async (t) => {
  const card = new Card();
  card.feed(I(0, seq(40)));
  t.same(card.sent, ['R(0,other)'], 'INF over IFSC 32 is invalid');
  card.feed(I(0, '80CA000000'));
  card.run({ type: 'request-ifs', ifsc: 64 });
  t.same(card.sent, ['S(ifs req 64)']);
  card.feed(Sv('ifs', true, 64));
  t.equal(card.state.link.ifsc, 64);
  t.equal(card.state.phase, 'processing');
  card.respond('9000');
  card.feed(I(1, seq(60)));
  t.same(card.commands, [toHex(seq(60))]);
});

t.test('[7816-3 §11.6.3 rule 7.1] card: corrupted block answered with R(EDC error)', async (t) => {
  const card = new Card();
  const b = encodeT1Block(I(0, '00B0000000'), 'lrc');
  b[4] = b[4]! ^ 0x40;
  card.raw(b);
  t.same(card.sentHex, ['00810081']);
  card.raw('00 00 FF 00');
  t.same(card.sentHex, ['00810081'], '[7816-3 §11.6.3 rule 7.2] last block was an R-block: resent as is');
  card.feed(I(0, '00B0000000'));
  t.same(card.commands, ['00B0000000']);
});

t.test('[7816-3 §11.6.3 rule 7.2] card: R-block during a command chain resends the acknowledgement', async (t) => {
  const card = new Card();
  card.feed(I(0, seq(32), true));
  t.same(card.sentHex, ['00900090']);
  card.feed(R(0));
  t.same(card.sentHex, ['00900090']);
  card.raw('00 00 01 00 00');
  t.same(card.sentHex, ['00900090']);
});

t.test('[7816-3 §11.6.3 rule 7.1] card: lost response is resent on R(N(R) = its N(S)), never re-executed', async (t) => {
  const card = new Card();
  card.feed(I(0, '805000000B'));
  card.respond('6A82');
  const resp = card.sentHex;
  card.feed(R(0));
  t.same(card.sentHex, resp, 'same bytes');
  t.same(card.commands, []);
  card.feed(I(0, '805000000B'));
  t.same(card.commands, [], 'the repeated I-block is not delivered again');
  t.same(card.sent, ['R(1,other)']);
  card.feed(R(1));
  t.same(card.sent, ['R(1,other)'], 'rule 7.2: previous R-block again');
});

t.test('card: R-block when the terminal missed its own I-block asks for it', async (t) => {
  const card = new Card();
  card.feed(R(0));
  t.same(card.sent, ['R(0)']);
});

t.test('[7816-3 §11.6.3 rule 6] card: S(RESYNCH request) resets sequence numbers and IFS', async (t) => {
  const card = new Card({ ifsc: 16 });
  card.feed(Sv('ifs', false, 100));
  card.feed(I(0, seq(16), true));
  card.feed(Sp('resynch', false));
  t.same(card.sentHex, ['00E000E0']);
  t.same(card.others, ['resynchronised']);
  t.same([card.state.phase, card.state.link.ns, card.state.link.nr, card.state.link.ifsd], ['idle', 0, 0, 32]);
  card.feed(I(0, '00B0000000'));
  t.same(card.commands, ['00B0000000'], 'partial chain dropped, new command from N(S) = 0');
});

t.test('[7816-3 §11.6.3 rule 9] card: terminal S(ABORT request) drops the chain', async (t) => {
  const card = new Card();
  card.feed(I(0, '00B0000000'));
  card.respond(seq(80));
  card.feed(Sp('abort', false));
  t.same(card.sentHex, ['00E200E2']);
  t.same(card.others, ['aborted']);
  t.equal(card.state.phase, 'idle');
});

t.test('[7816-3 §11.6.3 rule 9] card: oversized chained command aborted by the card', async (t) => {
  const card = new Card({ maxCommandLength: 40 });
  card.feed(I(0, seq(32), true));
  card.feed(I(1, seq(32), true));
  t.same(card.sentHex, ['00C200C2']);
  t.same(card.others, ['PROTO_ERR_T1_COMMAND_TOO_LONG']);
  card.feed(R(0));
  t.same(card.sentHex, ['00C200C2'], 'unanswered: sent again');
  card.feed(Sp('abort', true));
  t.equal(card.state.phase, 'idle');
  t.same(card.sent, []);
  card.feed(I(0, '00B0000000'));
  t.same(card.commands, ['00B0000000']);
});

t.test('card: S(WTX request) from the terminal is invalid', async (t) => {
  const card = new Card();
  card.feed(Sv('wtx', false, 1));
  t.same(card.sent, ['R(0,other)']);
});

t.test('card: events out of turn are refused with codes, state unchanged', async (t) => {
  const card = new Card();
  const s0 = card.state;
  card.respond('9000');
  t.same(card.others, ['PROTO_ERR_T1_UNEXPECTED_EVENT']);
  card.run({ type: 'request-wtx', multiplier: 1 });
  t.same(card.others, ['PROTO_ERR_T1_UNEXPECTED_EVENT']);
  t.equal(card.state, s0);
  card.feed(I(0, '00B0000000'));
  card.respond(new Uint8Array(0));
  t.same(card.others, ['PROTO_ERR_T1_EMPTY_APDU']);
  card.run({ type: 'request-wtx', multiplier: 0 });
  t.same(card.others, ['PROTO_ERR_T1_PARAM']);
  card.run({ type: 'request-ifs', ifsc: 255 });
  t.same(card.others, ['PROTO_ERR_T1_PARAM']);
  card.feed(R(0));
  t.same(card.effects, [], 'blocks while processing are ignored');
  t.throws(() => t1Card({ ifsc: 0 }), { code: 'PROTO_ERR_T1_PARAM' });
});
