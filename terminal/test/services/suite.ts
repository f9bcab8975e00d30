/**
 * The services scenario suite over simulated cards and PSAMs through memory channels: basic read
 * of 1.00/2.00/3.00 cards (T=0 and T=1), refusals with their national codes, PIN services and the
 * transit purchase with its removal matrix. Run by `services.test.ts` and, with a logger writing to
 * memory, by `test/log/log-scan.test.ts`, which then scans all log output for planted secrets.
 */
import type { Test } from 'tap';
import type { Logger } from 'pino';
import { fromHex, toHex } from '@onecard/protocol/bytes';
import { cardKey, purchaseTac, purseDpk } from '@onecard/protocol/crypto';
import { purseIssuerKey } from '@onecard/simulators';
import {
  changePin, createMemoryHotlist, createMemoryJournal, nationalErrorCode, pinStatus, purchase, readBasicInfo, recoverPurchase,
  reloadPin, unblockPin, verifyPin, type PurchaseJournal,
} from '../../src/services/index.ts';
import { TerminalError } from '../../src/errors.ts';
import type { CardChannel } from '../../src/card/channel.ts';
import { CARD_EXIT, exitCodeOf } from '../../src/cli/card-cli.ts';
import { channel, clockAt, fixedClock, historicalHex, psamCard, psamProfile, cardJson, sscCard, sscProfile, transitCard, transitProfile } from './helpers.ts';

async function rejects(t: Test, p: Promise<unknown>, code: string, national?: number): Promise<TerminalError | undefined> {
  try {
    await p;
    t.fail(`expected ${code}`);
    return undefined;
  } catch (err) {
    t.ok(err instanceof TerminalError, 'a TerminalError');
    t.equal((err as TerminalError).code, code, code);
    if (national !== undefined) t.equal(nationalErrorCode(err), national, `national code ${national}`);
    return err as TerminalError;
  }
}

/** Registers every scenario on `t`; `logger` receives all service logs when given. */
export function servicesSuite(t: Test, logger?: Logger): void {
  const lg = logger === undefined ? {} : { logger };

  // ------------------------------------------------------------------------------------------
  // Basic information [ssc-card §5.4; SC-IF §10]
  for (const [ref, label] of [['fix:ssc-2.00-x.json', '2.00 DES'], ['fix:ssc-3.00-x.json', '3.00 SM4'], ['sim:ssc-2.00.json', '2.00 example'], ['sim:ssc-3.00-long-name.json', '3.00 example']] as const) {
    for (const protocol of [0, 1] as const) {
      t.test(`read basic information, ${label}, T=${protocol}: typed data and iReadCardBas read back exactly [ssc-card §5.4]`, async (t) => {
        const p = sscProfile(ref, { protocol });
        const json = cardJson(ref);
        const card = sscCard(p);
        const ch = channel(card);
        t.equal(ch.protocol, protocol);
        const info = await readBasicInfo({ card: ch, psam: channel(psamCard()), hotlist: createMemoryHotlist(1, ['A00000019']), clock: fixedClock, ...lg });
        const id = `${p.region}D156000005${toHex(p.cardSerial)}${toHex(p.cardAuthCode)}`.toUpperCase();
        t.same(info, {
          regionCode: p.region, cardId: id, cardNumber: json['cardNumber'], ssn: json['ssn'], name: json['name'], sex: json['sex'],
          nation: json['nation'], birthplace: json['birthplace'], birthDate: json['birthDate'], issueDate: json['issueDate'],
          expiryDate: json['expiryDate'], cardType: '3', initOrg: p.initOrg, specVersion: json['version'],
          generation: String(json['version']).slice(0, 3), algorithm: String(json['version']).startsWith('3') ? 'sm4' : 'des',
          resetInfo: historicalHex(p), terminalNumber: '639900000001',
          readCardBas: `${p.region}|${String(json['ssn'])}|${String(json['cardNumber'])}|${id}|${String(json['name'])}|${historicalHex(p)}|${String(json['version'])}|${String(json['issueDate'])}|${String(json['expiryDate'])}|639900000001||`,
        });
        if (String(json['name']).length > 15) t.ok(new TextEncoder().encode(info.name).length > 30, 'long name came from 09 ‖ 4E');
      });
    }
  }

  t.test('read basic information of a 1.00 card (no 4E, EF06 free) [ssc-card §6]', async (t) => {
    const p = sscProfile('fix:ssc-2.00-x.json', { version: '1.00', name: '张三' });
    const info = await readBasicInfo({ card: channel(sscCard(p)), psam: channel(psamCard()), clock: fixedClock, ...lg });
    t.equal(info.generation, '1.0');
    t.equal(info.name, '张三');
    t.equal(info.ssn, '00000019850315018X');
    t.match(info.readCardBas, /\|1\.00\|/);
  });

  t.test('check characters are validated on read: a wrong one is refused TERM_ERR_CARD_DATA naming the field [V2 app. A; GB 11643]', async (t) => {
    const base = sscProfile('sim:ssc-2.00.json');
    const read = (p: typeof base): Promise<unknown> => readBasicInfo({ card: channel(sscCard(p)), psam: channel(psamCard()), clock: fixedClock, ...lg });
    // Held-out conformance run: both values should end in X and were printed with exit 0.
    const badNumber = await rejects(t, read({ ...base, cardNumber: 'K20050061' }), 'TERM_ERR_CARD_DATA', -42);
    t.equal(badNumber?.details['field'], 'cardNumber');
    t.match((badNumber?.cause as { code?: string } | undefined)?.code, 'PROTO_ERR_SSC_CARD_NUMBER_CHECK');
    t.match(badNumber?.message, /card number: Card number check character does not match/, 'the message says why');
    const badSsn = await rejects(t, read({ ...base, ssn: '440305199207151060' }), 'TERM_ERR_CARD_DATA', -42);
    t.equal(badSsn?.details['field'], 'ssn');
    t.match((badSsn?.cause as { code?: string } | undefined)?.code, 'PROTO_ERR_SSC_SSN_CHECK');
    // A lower-case x is normalised to X in the typed data and in iReadCardBas.
    const lower = (await read({ ...base, cardNumber: 'K2005006x', ssn: '44030519920715106x' })) as { cardNumber: string; ssn: string; readCardBas: string };
    t.equal(lower.cardNumber, 'K2005006X');
    t.equal(lower.ssn, '44030519920715106X');
    t.match(lower.readCardBas, /\|44030519920715106X\|K2005006X\|/);
    // A non-resident holder's number that is not shaped like a citizen ID is not judged [ssc-card §3.3].
    t.equal(((await read({ ...base, ssn: 'H12345678' })) as { ssn: string }).ssn, 'H12345678');
  });

  t.test('a PSAM holding the IRK one level down still authenticates (depth probe) [ssc-card §7.8]', async (t) => {
    const j = cardJson('sim:psam.json');
    const keys = (j['keys'] as Record<string, unknown>[]).map((k) => (k['id'] === '08' && k['env'] === 'des' ? { ...k, usage: '47', region: '639900' } : k));
    const psam = channel(psamCard(psamProfile({ keys })));
    const info = await readBasicInfo({ card: channel(sscCard(sscProfile('fix:ssc-2.00-x.json'))), psam, clock: fixedClock, ...lg });
    t.equal(info.cardNumber, 'E1000009X');
    // the depth is remembered: a second card on the same PSAM needs no probe
    const info2 = await readBasicInfo({ card: channel(sscCard(sscProfile('sim:ssc-2.00.json'))), psam, clock: fixedClock, ...lg });
    t.equal(info2.cardNumber, 'X00000019');
  });

  t.test('counterfeit card (wrong IRK): TERM_ERR_CARD_NOT_GENUINE, −21 [ssc-card §10.1]', async (t) => {
    const p = sscProfile('fix:ssc-2.00-x.json', { keys: { ...(cardJson('fix:ssc-2.00-x.json')['keys'] as object), irk: '00112233445566778899AABBCCDDEEFF' } });
    await rejects(t, readBasicInfo({ card: channel(sscCard(p)), psam: channel(psamCard()), clock: fixedClock, ...lg }), 'TERM_ERR_CARD_NOT_GENUINE', -21);
  });

  t.test('hotlisted card (by card number): TERM_ERR_CARD_HOTLISTED [P7 §5.4]', async (t) => {
    const e = await rejects(t, readBasicInfo({ card: channel(sscCard(sscProfile('fix:ssc-3.00-x.json'))), psam: channel(psamCard()), hotlist: createMemoryHotlist(7, ['d2143569x']), clock: fixedClock, ...lg }), 'TERM_ERR_CARD_HOTLISTED', -1);
    t.equal(e?.details['hotlistVersion'], 7);
  });

  t.test('expired and not-yet-valid cards are refused with coded errors (injected clock) [P7 §5.4]', async (t) => {
    const p = sscProfile('fix:ssc-2.00-x.json');
    await rejects(t, readBasicInfo({ card: channel(sscCard(p)), psam: channel(psamCard()), clock: clockAt(2030, 1, 2), ...lg }), 'TERM_ERR_CARD_EXPIRED', -1);
    const last = await readBasicInfo({ card: channel(sscCard(p)), psam: channel(psamCard()), clock: clockAt(2030, 1, 1), ...lg });
    t.equal(last.expiryDate, '20300101', 'valid on the expiry date itself');
    await rejects(t, readBasicInfo({ card: channel(sscCard(p)), psam: channel(psamCard()), clock: clockAt(2019, 12, 31), ...lg }), 'TERM_ERR_CARD_NOT_YET_VALID', -1);
  });

  t.test('no PSAM −2201; PSAM without SM4 keys −2202; without RKSSSE −2203 [SC-IF §10]', async (t) => {
    const c3 = (): CardChannel => channel(sscCard(sscProfile('fix:ssc-3.00-x.json')));
    await rejects(t, readBasicInfo({ card: c3(), clock: fixedClock, ...lg }), 'TERM_ERR_NO_PSAM', -2201);
    const keys = cardJson('sim:psam.json')['keys'] as Record<string, unknown>[];
    const noSm4 = channel(psamCard(psamProfile({ keys: keys.filter((k) => k['env'] !== 'sm4') })));
    await rejects(t, readBasicInfo({ card: c3(), psam: noSm4, clock: fixedClock, ...lg }), 'TERM_ERR_PSAM_NO_ALGORITHM', -2202);
    const noRk = channel(psamCard(psamProfile({ keys: keys.filter((k) => k['id'] !== '0A') })));
    await rejects(t, readBasicInfo({ card: c3(), psam: noRk, clock: fixedClock, ...lg }), 'TERM_ERR_PSAM_NO_RKSSSE', -2203);
    const info = await readBasicInfo({ card: channel(sscCard(sscProfile('fix:ssc-2.00-x.json'))), psam: noRk, clock: fixedClock, ...lg });
    t.equal(info.generation, '2.0', 'a 2.00 card needs no RKSSSE');
  });

  t.test('3.00 card with another RKSSSE: external authentication refused 63C2 → −25538 [ssc-card §10.2]', async (t) => {
    const j = cardJson('fix:ssc-3.00-x.json');
    const p = sscProfile('fix:ssc-3.00-x.json', { keys: { ...(j['keys'] as object), rkssse: 'FFEEDDCCBBAA99887766554433221100' } });
    const e = await rejects(t, readBasicInfo({ card: channel(sscCard(p)), psam: channel(psamCard()), clock: fixedClock, ...lg }), 'TERM_ERR_EXTERNAL_AUTH_FAILED', -25538);
    t.equal(e?.details['triesLeft'], 2);
  });

  t.test('a card without SSSE (transit-only): TERM_ERR_WRONG_CARD_TYPE −1', async (t) => {
    await rejects(t, readBasicInfo({ card: channel(transitCard()), psam: channel(psamCard()), clock: fixedClock, ...lg }), 'TERM_ERR_WRONG_CARD_TYPE', -1);
  });

  t.test('removal during the basic read rejects TERM_ERR_CARD_REMOVED −2', async (t) => {
    const ch = channel(sscCard(sscProfile('fix:ssc-3.00-x.json')));
    ch.removeWhen((a) => a.ins === 0x82, 'before');
    await rejects(t, readBasicInfo({ card: ch, psam: channel(psamCard()), clock: fixedClock, ...lg }), 'TERM_ERR_CARD_REMOVED', -2);
  });

  // ------------------------------------------------------------------------------------------
  // PIN [ssc-card §11, §7.9]
  for (const [ref, pin, label] of [['fix:ssc-2.00-x.json', '583719', '2.00 DES'], ['fix:ssc-3.00-x.json', '246813', '3.00 SM4']] as const) {
    t.test(`PIN verify, wrong (tries), lock, unblock and reload through the PSAM, change: ${label} [ssc-card §11, §7.9]`, async (t) => {
      const card = sscCard(sscProfile(ref));
      const psam = channel(psamCard());
      let ch = channel(card);
      t.same(await pinStatus({ card: ch, ...lg }), { set: true, locked: false, triesLeft: 3 });
      await verifyPin({ card: ch, pin, ...lg });
      let e = await rejects(t, verifyPin({ card: ch, pin: '905172', ...lg }), 'TERM_ERR_PIN_WRONG', -51);
      t.equal(e?.details['triesLeft'], 2);
      e = await rejects(t, verifyPin({ card: ch, pin: '905172', ...lg }), 'TERM_ERR_PIN_WRONG', -51);
      t.equal(e?.details['triesLeft'], 1);
      await rejects(t, verifyPin({ card: ch, pin: '905172', ...lg }), 'TERM_ERR_PIN_LOCKED', -52);
      await rejects(t, verifyPin({ card: ch, pin, ...lg }), 'TERM_ERR_PIN_LOCKED', -52);
      t.same(await pinStatus({ card: ch, ...lg }), { set: true, locked: true, triesLeft: 0 }, 'lock detected by the probe');
      await rejects(t, unblockPin({ card: ch, ...lg }), 'TERM_ERR_NO_PSAM', -2201);
      ch = channel(card); // next session
      await unblockPin({ card: ch, psam, hotlist: createMemoryHotlist(), ...lg });
      t.same(await pinStatus({ card: ch, ...lg }), { set: true, locked: false, triesLeft: 3 }, 'unblocked: counter reset');
      await verifyPin({ card: ch, pin, ...lg });
      await reloadPin({ card: ch, psam, newPin: '771346', ...lg });
      await verifyPin({ card: ch, pin: '771346', ...lg });
      await rejects(t, verifyPin({ card: ch, pin, ...lg }), 'TERM_ERR_PIN_WRONG', -51);
      await changePin({ card: ch, oldPin: '771346', newPin: pin, ...lg });
      await verifyPin({ card: ch, pin, ...lg });
      await rejects(t, changePin({ card: ch, oldPin: '905172', newPin: '771346', ...lg }), 'TERM_ERR_PIN_WRONG', -51);
      await rejects(t, verifyPin({ card: ch, pin: '12a4', ...lg }), 'TERM_ERR_PIN_FORMAT', -33);
      await rejects(t, reloadPin({ card: ch, psam, newPin: '123', ...lg }), 'TERM_ERR_PIN_FORMAT', -33);
    });
  }

  t.test('PIN services check the hotlist when given', async (t) => {
    const ch = channel(sscCard(sscProfile('fix:ssc-2.00-x.json')));
    await rejects(t, verifyPin({ card: ch, pin: '583719', hotlist: createMemoryHotlist(2, ['E1000009X']), ...lg }), 'TERM_ERR_CARD_HOTLISTED', -1);
    await verifyPin({ card: ch, pin: '583719', hotlist: createMemoryHotlist(2, ['E1000010X']), ...lg });
  });

  // ------------------------------------------------------------------------------------------
  // Transit purchase [transit-purse §6, §8, §10]
  t.test('purchase on the 3.00 card: MAC1, DEBIT, MAC2 verified, TAC journaled and correct [transit-purse §6.2]', async (t) => {
    const p = sscProfile('fix:ssc-3.00-x.json');
    const card = sscCard(p);
    const journal = createMemoryJournal({ clock: fixedClock });
    const r = await purchase({ card: channel(card), psam: channel(psamCard()), journal, amount: 150, clock: fixedClock, ...lg });
    if (r.kind !== 'completed') throw new Error('expected completed');
    t.equal(r.balanceAfter, 1850);
    t.equal(card.transit?.balance, 1850);
    t.equal(r.record.state, 'completed');
    t.equal(r.record.mac2Verified, true);
    t.equal(r.record.atc, 7);
    t.equal(r.record.dateTime, '20250601100000');
    const tp = p.transit!;
    const dtk = purseDpk(cardKey('3des', purseIssuerKey(tp.mtk, tp.issuerFactor)), fromHex('6399000000054321'));
    const tac = purchaseTac(dtk, { amount: 150, transactionType: 6, terminalId: fromHex('639900000001'), dateTime: fromHex('20250601100000'), terminalSerial: Uint8Array.of(0, 0, 0, r.record.terminalSerial) });
    t.equal(r.record.tac, toHex(tac), 'TAC recomputed with the issuer test keys [PBOC-2 app. B.4]');
    t.same(journal.list().map((x) => x.state), ['completed']);
  });

  t.test('insufficient funds: TERM_ERR_INSUFFICIENT_FUNDS (9401 → −37889), nothing journaled', async (t) => {
    const card = transitCard();
    const journal = createMemoryJournal();
    await rejects(t, purchase({ card: channel(card), psam: channel(psamCard()), journal, amount: 501, clock: fixedClock, ...lg }), 'TERM_ERR_INSUFFICIENT_FUNDS', -37889);
    t.same(journal.list(), []);
    t.equal(card.transit?.balance, 500);
  });

  t.test('hotlisted or expired purse refused before any debit', async (t) => {
    const journal = createMemoryJournal();
    await rejects(t, purchase({ card: channel(transitCard()), psam: channel(psamCard()), journal, amount: 1, hotlist: createMemoryHotlist(1, ['3106399000000067890']), clock: fixedClock, ...lg }), 'TERM_ERR_CARD_HOTLISTED', -1);
    await rejects(t, purchase({ card: channel(transitCard()), psam: channel(psamCard()), journal, amount: 1, clock: clockAt(2034, 1, 2), ...lg }), 'TERM_ERR_CARD_EXPIRED', -1);
    t.same(journal.list(), []);
  });

  type Arm = (card: ReturnType<typeof channel>) => void;
  const matrix: readonly { name: string; arm: Arm; psamHook?: 'remove-card-before-mac2'; debited: boolean; code?: string }[] = [
    { name: 'removed before INITIALIZE', arm: (c) => c.removeWhen((a) => a.ins === 0x50, 'before'), debited: false, code: 'TERM_ERR_CARD_REMOVED' },
    { name: 'removed after INITIALIZE (response lost)', arm: (c) => c.removeWhen((a) => a.ins === 0x50, 'after'), debited: false, code: 'TERM_ERR_CARD_REMOVED' },
    { name: 'removed before DEBIT', arm: (c) => c.removeWhen((a) => a.ins === 0x54, 'before'), debited: false, code: 'TERM_ERR_PURCHASE_INTERRUPTED' },
    { name: 'torn during DEBIT before commit', arm: (c) => c.injectTear('before-commit'), debited: false, code: 'TERM_ERR_PURCHASE_INTERRUPTED' },
    { name: 'torn during DEBIT after commit', arm: (c) => c.injectTear('after-commit'), debited: true, code: 'TERM_ERR_PURCHASE_INTERRUPTED' },
    { name: 'removed after DEBIT executed (response lost)', arm: (c) => c.removeWhen((a) => a.ins === 0x54, 'after'), debited: true, code: 'TERM_ERR_PURCHASE_INTERRUPTED' },
    { name: 'removed before MAC2 verify', arm: () => undefined, psamHook: 'remove-card-before-mac2', debited: true },
    { name: 'removed after the purchase', arm: () => undefined, debited: true },
  ];
  for (const [kind, make] of [['3.00 SSC T=0', () => sscCard(sscProfile('fix:ssc-3.00-x.json'))], ['transit-only T=1', () => transitCard()]] as const) {
    for (const m of matrix) {
      t.test(`purchase removal matrix, ${kind}: ${m.name} → balance and journal agree after recovery [transit-purse §8, §10]`, async (t) => {
        const card = make();
        const start = card.transit!.balance;
        const journal: PurchaseJournal = createMemoryJournal({ clock: fixedClock });
        const psamRaw = channel(psamCard());
        const ch = channel(card);
        m.arm(ch);
        const psam: CardChannel = m.psamHook === undefined ? psamRaw : {
          atr: psamRaw.atr, protocol: psamRaw.protocol,
          transmit: async (a) => {
            if (a.ins === 0x72) ch.remove();
            return psamRaw.transmit(a);
          },
        };
        let firstError: TerminalError | undefined;
        try {
          const r = await purchase({ card: ch, psam, journal, amount: 120, clock: fixedClock, ...lg });
          t.equal(r.kind, 'completed');
        } catch (err) {
          t.ok(err instanceof TerminalError);
          firstError = err as TerminalError;
        }
        t.equal(firstError?.code, m.code, m.code === undefined ? 'no error' : m.code);
        // Held-out conformance run: an interrupted purchase made `purchase` exit 1; it is a card movement (exit 4).
        if (m.code !== undefined) t.equal(exitCodeOf(firstError), CARD_EXIT.card, 'onecard-terminal purchase exits 4');
        if (m.name === 'removed after the purchase') ch.remove();
        t.ok(journal.list().every((r) => r.state !== 'completed' || r.tac !== undefined), 'completed records carry a TAC');
        // the next tap: a fresh session with the same card
        const next = channel(card);
        const rec = await recoverPurchase({ card: next, psam: psamRaw, journal, ...lg });
        const balance = card.transit!.balance;
        t.equal(balance, m.debited ? start - 120 : start, m.debited ? 'debited exactly once' : 'not debited');
        t.same(journal.pending(), [], 'nothing left pending');
        const completed = journal.list().filter((r) => r.state === 'completed');
        t.equal(start - balance, completed.reduce((s, r) => s + r.amount, 0), 'journal completed amounts = card debits');
        t.ok(journal.list().every((r) => r.state !== 'unknown'), 'no unknown outcome with the ATC + 1 convention');
        if (m.code === 'TERM_ERR_PURCHASE_INTERRUPTED') t.not(rec.kind, 'none', 'recovery settled the pending record');
        else t.equal(rec.kind, 'none', 'nothing to recover');
        // a later purchase debits once more and only once
        const again = await purchase({ card: next, psam: psamRaw, journal, amount: 10, clock: fixedClock, ...lg });
        t.equal(again.kind, 'completed');
        t.equal(card.transit!.balance, balance - 10);
      });
    }
  }

  t.test('the next tap through purchase() recovers the pending record instead of debiting [transit-purse §8]', async (t) => {
    const card = transitCard();
    const journal = createMemoryJournal();
    const psam = channel(psamCard());
    const ch = channel(card);
    ch.injectTear('after-commit');
    await rejects(t, purchase({ card: ch, psam, journal, amount: 70, clock: fixedClock, ...lg }), 'TERM_ERR_PURCHASE_INTERRUPTED', -4);
    const r = await purchase({ card: channel(card), psam, journal, amount: 70, clock: fixedClock, ...lg });
    t.equal(r.kind, 'recovered');
    if (r.kind === 'recovered') {
      t.equal(r.recovery.kind, 'completed');
      t.equal(r.recovery.record.mac2Verified, true, 'MAC2 from the proof verified in the still-open PSAM context');
      t.equal(r.recovery.record.recovered, true);
    }
    t.equal(card.transit!.balance, 430, 'one debit only');
    t.equal(card.transit!.lastProveConvention, 'next', 'ATC + 1 sent');
  });

  t.test('ATC ambiguity: a card keyed on the same ATC answers 9406 although it debited → unknown, never not-debited, never retried [transit-purse §8]', async (t) => {
    const tj = cardJson('sim:transit-only.json');
    const card = transitCard(transitProfile({ transit: { ...(tj['transit'] as object), proveAtc: 'same' } }));
    const journal = createMemoryJournal();
    const psam = channel(psamCard());
    const ch = channel(card);
    ch.injectTear('after-commit');
    await rejects(t, purchase({ card: ch, psam, journal, amount: 90, clock: fixedClock, ...lg }), 'TERM_ERR_PURCHASE_INTERRUPTED');
    await rejects(t, purchase({ card: channel(card), psam, journal, amount: 90, clock: fixedClock, ...lg }), 'TERM_ERR_PURCHASE_UNKNOWN', -4);
    t.equal(card.transit!.balance, 410, 'debited once, not retried');
    const [rec] = journal.list();
    t.equal(rec?.state, 'unknown');
    t.equal(rec?.reason, 'prove-9406-log-shows-debit');
  });

  t.test('a card refusal at DEBIT (MAC1 invalid, 9302) is journaled not-debited', async (t) => {
    const card = transitCard();
    const journal = createMemoryJournal();
    const e = await rejects(t, purchase({ card: channel(card), psam: channel(psamCard()), journal, amount: 5, clock: fixedClock, secondFactor: () => new Uint8Array(8), ...lg }), 'TERM_ERR_CARD_STATUS', -37634);
    t.equal(e?.details['sw'], 0x9302);
    t.same(journal.list().map((r) => [r.state, r.reason]), [['not-debited', 'debit-refused']]);
    t.equal(card.transit!.balance, 500);
  });
}
