// The venue gate service over a memory outbox and a fake fleet link: every decision journaled
// with its reason (admissions as transactions before they are answered), the ledger kept across a
// restart, the snapshot fetched and kept, capacity refused once it is older than maxStaleSeconds
// and admitted again after a reconnect, an outbox that refuses the journal refuses the entry.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLE_VENUE_RULES, venueHolderKey, type VenueRulesDocument, type VenueSnapshotValue } from '@onecard/protocol/venue';
import { MemoryOutbox } from '../../src/agent/memory-outbox.ts';
import { VenueGate, type VenueServerLink } from '../../src/services/venue.ts';
import type { BasicInfo } from '../../src/services/basic-info.ts';
import { TerminalError } from '../../src/errors.ts';

const rules: VenueRulesDocument = { ...EXAMPLE_VENUE_RULES, timeZone: 'UTC', hours: [], capacity: 2, maxDailyEntries: 1, maxStaleSeconds: 60 };
const T0 = Date.parse('2026-12-08T10:00:00Z');
const info = (cardNumber: string, ssn = '000000197001010000'): BasicInfo => ({ cardNumber, ssn, generation: '3.0', cardType: '3' } as unknown as BasicInfo);

t.test('decisions, journal, ledger across restart, snapshot staleness, reconnect', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'venue-gate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let now = T0;
  let online = true;
  let others = 0;
  const server: VenueServerLink = {
    snapshot: async (venueId) => {
      if (!online) throw new TerminalError('TERM_ERR_VENUE_OFFLINE', 'down');
      const s: VenueSnapshotValue = { v: 1, venueId, date: '2026-12-08', asOf: now, others: { entries: others, exits: 0, holders: {} }, events: [] };
      return s;
    },
    register: async () => ({}),
  };
  const outbox = new MemoryOutbox();
  const open = () => VenueGate.open({ rules: () => rules, dir, outbox, clock: () => now, hotlistStale: () => false, server });
  let gate = await open();

  t.match(await gate.enterCard(info('A00000001')), { admit: false, reason: 'venue-data-stale' }, 'never synced, capacity set: refused');
  t.equal(await gate.sync(), true);
  t.match(await gate.enterCard(info('A00000001', '110101195001011234')), { admit: true, reason: 'admitted', category: 'senior', priceFen: 0, occupancy: 1, holder: 'A*******1' });
  t.match(await gate.enterCard(info('A00000001')), { admit: false, reason: 'daily-limit' });
  t.match(await gate.enterCardError(new TerminalError('TERM_ERR_CARD_HOTLISTED', 'x')), { admit: false, reason: 'hotlisted', code: 'TERM_ERR_CARD_HOTLISTED' });
  t.match(await gate.enterCardError(new TerminalError('TERM_ERR_CARD_NOT_GENUINE')), { admit: false, reason: 'card-invalid' });
  await t.rejects(gate.enterCardError(new TerminalError('TERM_ERR_NO_CARD')), { code: 'TERM_ERR_NO_CARD' }, 'no card is not a decision');
  t.match(await gate.exit(), { occupancy: 0 });
  const recs = await outbox.pending(100);
  t.same(recs.map((r) => [r.type, r.body['reason']]), [
    ['venue.refused', 'venue-data-stale'], ['venue.entry', 'admitted'], ['venue.refused', 'daily-limit'], ['venue.refused', 'hotlisted'], ['venue.refused', 'card-invalid'], ['venue.exit', 'exit'],
  ]);
  t.equal(recs[1]!.body['holderKey'], venueHolderKey(rules.venueId, 'card', 'A00000001'));
  t.notOk(JSON.stringify(recs).includes('A00000001'), 'no card number in the journal');
  t.notOk(JSON.stringify(recs).includes('110101195001011234'), 'no ID number in the journal');

  // Restart: the ledger (one entry of A) and the snapshot come back from the data dir.
  await gate.close();
  gate = await open();
  t.match(await gate.enterCard(info('A00000001')), { admit: false, reason: 'daily-limit' }, 'quota kept across a restart');
  others = 1;
  online = false;
  now += 59_000;
  t.match(await gate.enterCard(info('B00000002')), { admit: true, occupancy: 1, fresh: true }, 'offline within maxStaleSeconds: decided locally');
  t.equal(await gate.sync(), false);
  t.match(gate.status(), { configured: true, occupancy: 1, gate: { entries: 2, exits: 1 }, lastSync: { ok: false, code: 'TERM_ERR_VENUE_OFFLINE' } });
  now += 2_000;
  t.match(await gate.enterCard(info('C00000003')), { admit: false, reason: 'venue-data-stale', fresh: false }, 'past the limit: capacity cannot be decided');
  online = true;
  t.equal(await gate.sync(), true, 'reconnected');
  t.match(await gate.enterCard(info('C00000003')), { admit: false, reason: 'capacity-full', occupancy: 2 }, 'the other gate\'s entry counts after the reconcile');
  now += 86_400_000;
  t.equal(await gate.sync(), true);
  t.match(await gate.enterCard(info('A00000001')), { admit: true, occupancy: 1 }, 'the next day starts a new ledger');
  await gate.close();

  // An outbox that refuses the journal refuses the entry (nothing counted).
  const full = new MemoryOutbox({ limits: { maxRecords: 1 } } as never);
  await full.append({ type: 'x.fill', body: {}, class: 'transaction' });
  const g2 = await VenueGate.open({ rules: () => ({ ...rules, capacity: 0 }), outbox: full, clock: () => now, hotlistStale: () => false });
  await t.rejects(g2.enterCard(info('D00000004')), { code: 'TERM_ERR_OUTBOX_FULL' });
  t.match(g2.status(), { gate: { entries: 0 } });
  const g3 = await VenueGate.open({ rules: () => undefined, clock: () => now, hotlistStale: () => true });
  await t.rejects(g3.enterCard(info('D00000004')), { code: 'TERM_ERR_VENUE_NOT_CONFIGURED' });
  t.same(g3.status(), { configured: false });
  const g4 = await VenueGate.open({ rules: () => ({ ...rules, capacity: 0 }), clock: () => now, hotlistStale: () => true });
  t.match(await g4.enterCard(info('D00000004')), { admit: false, reason: 'hotlist-stale' });
  t.match(await g4.enterEcard({ holderRef: 'ab12', maskedId: '110*************3X' }), { admit: true, via: 'ecard', holder: '110*************3X' });
});
