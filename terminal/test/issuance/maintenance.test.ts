import t from 'tap';
import { encodeCommandApdu } from '@onecard/protocol/iso7816';
import type { SimulatedCard } from '@onecard/simulators';
import { createIssuancePsam } from '@onecard/simulators/src/issuance/psam.ts';
import { blockApplication, changeHolderInformation, BLOCK_CONFIRMATION } from '../../src/issuance/maintenance.ts';
import type { ApduPort } from '../../src/issuance/device-client.ts';
import { channelOf } from '../../src/issuance/channel.ts';
import type { CardChannel } from '../../src/card/channel.ts';
import { holder, roots, site } from './fixtures.ts';

/** A card or PSAM on a desk reader. */
function reader(c: SimulatedCard): ApduPort {
  return {
    reset: async () => c.reset(),
    async transmit(apdu) {
      const r = c.transmit(encodeCommandApdu(apdu));
      return { data: r.slice(0, -2), sw: (r[r.length - 2]! << 8) | r[r.length - 1]! };
    },
  };
}

/** A card session on a desk reader: reset, then the channel. */
async function session(c: SimulatedCard): Promise<CardChannel> {
  const p = reader(c);
  return channelOf(p, await p.reset());
}

async function issued(version: '2.00' | '3.00') {
  const s = site(version);
  await s.service().start({ jobId: 'J1', region: '639900', ssn: holder.ssn, name: holder.name, kind: 'new' });
  const card = s.core.takeCard()!;
  s.cleanup();
  return card;
}

for (const version of ['2.00', '3.00'] as const) {
  t.test(`[issuance §1 maintenance] ${version}: information change under UKSSSE, read back`, async (t) => {
    const card = await issued(version);
    const psamCard = createIssuancePsam({ roots, region: '639900' });
    const ctx = { card: await session(card), psam: await session(psamCard) };
    const before = card.writeCount;
    const r = await changeHolderInformation(ctx, { name: '张三丰', birthplace: '110108' });
    t.same(r.tags, [0x09, 0x4e, 0x0c]);
    t.equal(card.writeCount, before + 3);
    const ef06 = card.records('EF06').map((x) => Buffer.from(x).toString('hex'));
    t.ok(ef06.some((h) => h.startsWith('0c03110108')), 'birthplace rewritten');
    await t.rejects(changeHolderInformation(ctx, {}), { code: 'TERM_ERR_INVALID_ARGUMENT' });
    await t.rejects(changeHolderInformation(ctx, { birthDate: '19491332' }), { code: 'PROTO_ERR_SSC_DATE' });
  });

  t.test(`[P5 §6.1; P7 §13.2] ${version}: APPLICATION BLOCK needs the confirmation, is permanent`, async (t) => {
    const card = await issued(version);
    const psamCard = createIssuancePsam({ roots, region: '639900' });
    const ctx = { card: await session(card), psam: await session(psamCard) };
    await t.rejects(blockApplication(ctx, 'yes'), { code: 'TERM_ERR_INVALID_ARGUMENT' });
    t.notOk(card.blocked);
    await blockApplication(ctx, BLOCK_CONFIRMATION);
    t.ok(card.blocked);
    await t.rejects(changeHolderInformation(ctx, { sex: '2' }), 'no maintenance on a blocked card');
    await t.rejects(blockApplication(ctx, BLOCK_CONFIRMATION));
  });
}

t.test('a card of another key hierarchy is refused before any change', async (t) => {
  const card = await issued('2.00');
  const { fromHex } = await import('@onecard/protocol/bytes');
  const other = createIssuancePsam({ roots: { ...roots, irk: fromHex('11'.repeat(16)) }, region: '639900' });
  await t.rejects(changeHolderInformation({ card: await session(card), psam: await session(other) }, { sex: '2' }), { code: 'TERM_ERR_CARD_NOT_GENUINE' });
});

for (const version of ['2.00', '3.00'] as const) {
  t.test(`[issue 20 done-when] ${version}: the issued card reads through the terminal's own card service`, async (t) => {
    const { readBasicInfo } = await import('../../src/services/index.ts');
    const { channelOf } = await import('../../src/issuance/channel.ts');
    const card = await issued(version);
    const cp = reader(card);
    const pp = reader(createIssuancePsam({ roots, region: '639900' }));
    const info = await readBasicInfo({ card: channelOf(cp, await cp.reset()), psam: channelOf(pp, await pp.reset()), clock: { now: () => Date.UTC(2026, 11, 8) } });
    t.match(info, { ssn: holder.ssn, name: holder.name, sex: '1', nation: '01', birthplace: '110105', birthDate: '19491231', issueDate: '20261207', expiryDate: '20361207', specVersion: version, initOrg: '639900000001', regionCode: '639900' });
  });
}
