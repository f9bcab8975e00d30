/**
 * The registry's pure core: check characters against the specification vectors, validation of
 * rows (each field's refusal), the lifecycle state machine over every status and event, masking
 * and the sealing of personal data (bound to card and field; wrong master key refused).
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import {
  CARD_EVENT_TYPES, CARD_STATUSES, cardCheckCharacter, cardNumberProblem, idCheckCharacter, idNumberProblem, maskIdNumber, maskName, regionCodes, step, validateCard,
  type CardEvent, type CardStatus,
} from '../../src/registry/model.ts';
import { PiiCipher } from '../../src/registry/pii.ts';
import { csvFields } from '../../src/registry/service.ts';
import { syntheticCard } from '../../src/registry/synthetic.ts';

t.test('[SPEC GB 11643-1999] citizen ID check character', async (t) => {
  t.equal(idCheckCharacter('00000019700101000'), '0', 'synthetic vector of ssc-card §3.3');
  t.equal(idNumberProblem('000000197001010000'), undefined, 'no region check without a region list');
  t.equal(idNumberProblem('000000197001010000', regionCodes()), 'address-code');
  t.equal(idNumberProblem('000000197001010001'), 'check-digit');
  t.equal(idNumberProblem('00000019700101000'), 'format');
  t.equal(idNumberProblem('0000001970010100x'), 'format', 'the caller upper-cases x');
  const feb30 = `33010219900230001`;
  t.equal(idNumberProblem(feb30 + idCheckCharacter(feb30)), 'birth-date');
  for (let i = 0; i < 50; i++) t.equal(idNumberProblem(syntheticCard(i * 7919).idNumber, regionCodes()), undefined);
});

t.test('[SPEC V2 app. A] card number check character', async (t) => {
  t.equal(cardCheckCharacter('D2143569'), 'X', 'the specification example');
  t.equal(cardCheckCharacter('X0000001'), '9', 'the SC-IF sample card number');
  t.equal(cardNumberProblem('D2143569X'), undefined);
  t.equal(cardNumberProblem('X00000019'), undefined);
  t.equal(cardNumberProblem('X00000018'), 'check-digit');
  t.equal(cardNumberProblem('100000019'), 'format', 'first character is a district letter');
  t.equal(cardNumberProblem('X0000001'), 'format');
});

t.test('row validation names each failed field and never echoes values', async (t) => {
  const regions = regionCodes();
  const good = { ...syntheticCard(5) };
  t.ok(validateCard(good, regions).ok);
  t.match(validateCard({ ...good, idNumber: good.idNumber.toLowerCase() }, regions), { ok: true }, 'lower-case x normalised');
  const cases: [Record<string, unknown>, string][] = [
    [{ name: '' }, 'name:missing'], [{ name: 'a\u202eb' }, 'name:characters'], [{ name: 'x'.repeat(65) }, 'name:length'],
    [{ region: '990000' }, 'region:unknown'], [{ generation: '4.0' }, 'generation:unknown'], [{ issuedOn: '2024-13-01' }, 'issuedOn:calendar'],
    [{ expiresOn: '2020-01-01' }, 'expiresOn:before-issue'], [{ expiresOn: '20340301' }, 'expiresOn:format'], [{ status: 'replaced' }, 'status:unknown'],
  ];
  for (const [patch, want] of cases) {
    const r = validateCard({ ...good, ...patch }, regions);
    t.notOk(r.ok);
    if (!r.ok) {
      t.same(r.problems.map((p) => `${p.field}:${p.reason}`), [want], want);
      t.notOk(JSON.stringify(r.problems).includes(good.idNumber));
    }
  }
  t.same(regionCodes(['330102']).isKnown('330106'), false, 'a deployment list narrows the codes');
});

t.test('lifecycle state machine: every status × event', async (t) => {
  const ev = (type: CardEvent['type']): CardEvent => (type === 'replace' ? { type, replacedBy: 'B00000014' } : { type } as CardEvent);
  // Expected next status, `=` for no change, `!` for refused.
  const table: Record<CardStatus, Record<CardEvent['type'], string>> = {
    issued: { activate: 'active', 'report-loss': 'reported-lost', 'cancel-loss': '!', replace: 'replaced', cancel: 'cancelled' },
    active: { activate: '=', 'report-loss': 'reported-lost', 'cancel-loss': '!', replace: 'replaced', cancel: 'cancelled' },
    'reported-lost': { activate: '!', 'report-loss': '=', 'cancel-loss': 'loss-cancelled', replace: 'replaced', cancel: 'cancelled' },
    'loss-cancelled': { activate: '!', 'report-loss': 'reported-lost', 'cancel-loss': '=', replace: 'replaced', cancel: 'cancelled' },
    replaced: { activate: '!', 'report-loss': '!', 'cancel-loss': '!', replace: '!', cancel: '!' },
    cancelled: { activate: '!', 'report-loss': '!', 'cancel-loss': '!', replace: '!', cancel: '=' },
  };
  for (const s of CARD_STATUSES) {
    for (const e of CARD_EVENT_TYPES) {
      const r = step({ status: s, replacedBy: s === 'replaced' ? 'C00000000' : null }, ev(e));
      const want = table[s][e];
      if (want === '!') t.notOk(r.ok, `${s} + ${e} refused`);
      else if (want === '=') t.match(r, { ok: true, changed: false }, `${s} + ${e} no-op`);
      else t.match(r, { ok: true, changed: true, state: { status: want, replacedBy: e === 'replace' ? 'B00000014' : null } }, `${s} + ${e} → ${want}`);
    }
  }
  t.match(step({ status: 'replaced', replacedBy: 'B00000014' }, { type: 'replace', replacedBy: 'B00000014' }), { ok: true, changed: false }, 'repeating the same replacement is idempotent');
});

t.test('masking and sealing', async (t) => {
  t.equal(maskIdNumber('330102195001010006'), '330*************06');
  t.equal(maskName('赵一一'), '赵**');
  const key = new Uint8Array(randomBytes(32));
  const c = new PiiCipher(key);
  const sealed = c.seal('A00000003', 'name', '赵一一');
  t.notOk(sealed.includes('赵'));
  t.equal(c.open('A00000003', 'name', sealed), '赵一一');
  t.not(c.seal('A00000003', 'name', '赵一一'), sealed, 'random IV: equal values seal differently');
  t.throws(() => c.open('A00000011', 'name', sealed), { code: 'SRV_ERR_KEYS_MASTER_KEY' }, 'moved to another card');
  t.throws(() => c.open('A00000003', 'idNumber', sealed), { code: 'SRV_ERR_KEYS_MASTER_KEY' }, 'moved to another field');
  t.throws(() => new PiiCipher(new Uint8Array(randomBytes(32))).open('A00000003', 'name', sealed), { code: 'SRV_ERR_KEYS_MASTER_KEY' }, 'another master key');
  t.equal(c.idHash('330102195001010006'), new PiiCipher(key).idHash('330102195001010006'), 'keyed hash is stable for a key');
  t.not(c.idHash('330102195001010006'), new PiiCipher(new Uint8Array(randomBytes(32))).idHash('330102195001010006'), 'and differs across keys');
  t.equal(c.holderHash('x', ' 赵一一 '), c.holderHash('x', '赵一一'), 'names trimmed');
});

t.test('CSV fields', async (t) => {
  t.same(csvFields('a,b,,c'), ['a', 'b', '', 'c']);
  t.same(csvFields('"a,1","b""q",c'), ['a,1', 'b"q', 'c']);
  t.equal(csvFields('"open'), undefined);
  t.equal(csvFields('"a"x,b'), undefined);
});
