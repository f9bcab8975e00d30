import t from 'tap';
import { toHex } from '@onecard/protocol/bytes';
import { decodeBasicData, decodeSimpleTlvs } from '@onecard/protocol/ssc';
import { ISSUANCE_STEPS, type IssuanceStep } from '../../src/issuance/journal.ts';
import { PowerCut } from '../../src/issuance/service.ts';
import { holder, site } from './fixtures.ts';

const app = (jobId: string) => ({ jobId, region: '639900', ssn: holder.ssn, name: holder.name, kind: 'new' as const });

/** What the holder's card says, read from the simulator's stored records. */
function cardData(card: { records(f: 'EF05' | 'EF06'): Uint8Array[] }) {
  return decodeBasicData([...card.records('EF05'), ...card.records('EF06')].flatMap((r) => decodeSimpleTlvs(r)));
}

for (const [version, mode] of [['2.00', 'psam'], ['3.00', 'psam'], ['2.00', 'hsm']] as const) {
  t.test(`[issuance §9.3] ${version} card issued end to end (${mode} mode): written, printed, 回盘, 启用, ejected`, async (t) => {
    const s = site(version, { authMode: mode });
    t.teardown(s.cleanup);
    const v = await s.service().start(app('J1'));
    t.match(v, { status: 'issued', step: 'eject' });
    t.notOk(v.error);
    const taken = s.core.takeCard();
    t.ok(taken, 'a card waits at the bezel');
    const d = cardData(taken!);
    t.match(d, { ssn: holder.ssn, name: holder.name, sex: '1', ethnicGroup: '01', birthplace: '110105', birthDate: '19491231', issueDate: '20261207', expiryDate: '20361207', cardNumber: v.cardNumber, specVersion: version });
    const job = s.region.job('J1')!;
    t.match(job, { enabled: true, cardNumber: v.cardNumber, returned: { outcome: 'issued', cardId: toHex(taken!.cardId) } });
    t.equal(s.core.snapshot().stock, 2, 'exactly one card used');
    t.match(s.core.delivered[0]!.face, holder.name);
    const rec = await s.store.load('J1');
    t.equal(rec!.application, undefined, 'personal data dropped from the journal at the end');
    t.equal(rec!.cardData, undefined);
    const text = s.logs.text();
    t.notOk(text.includes(holder.ssn) || text.includes(holder.name), 'no holder data in the logs');
    t.ok(s.logs.records().some((l) => l['msg'] === 'issuance step' && l['step'] === 'write'));
  });
}

t.test('[issuance §9.3] 回盘 from the back office: a job for the same card cannot run twice; busy and unknown jobs', async (t) => {
  const s = site('2.00');
  t.teardown(s.cleanup);
  const svc = s.service();
  await svc.start(app('J1'));
  await t.rejects(svc.start(app('J1')), { code: 'TERM_ERR_ISSUANCE_JOB' });
  await t.rejects(svc.resume('J1'), { code: 'TERM_ERR_ISSUANCE_JOB' }, 'finished jobs do not resume');
  await t.rejects(svc.view('nope'), { code: 'TERM_ERR_ISSUANCE_JOB' });
  await t.rejects(svc.start(app('../x')), { code: 'TERM_ERR_ISSUANCE_JOB' });
});

for (const step of ISSUANCE_STEPS) {
  for (const phase of ['before', 'after'] as const) {
    t.test(`[issue 20] power cut ${phase} ${step}: the resumed job issues exactly one card, never a half-written one`, async (t) => {
      for (const version of ['2.00', '3.00'] as const) {
        const s = site(version);
        t.teardown(s.cleanup);
        let armed = true;
        const cut = (_j: string, st: IssuanceStep, ph: 'before' | 'after'): void => {
          if (armed && st === step && ph === phase) {
            armed = false;
            throw new PowerCut();
          }
        };
        await t.rejects(s.service({ afterPersist: cut }).start(app('J1')), PowerCut);
        s.core.powerCycle();
        const views = await s.service().resumeAll();
        t.equal(views.length, 1);
        const v = views[0]!;
        t.equal(v.status, 'issued', `${version}: issued`);
        t.equal(s.core.retained.length, 0, `${version}: nothing retained`);
        const taken = s.core.takeCard();
        t.ok(taken, `${version}: card at the bezel`);
        t.equal(s.core.snapshot().stock, 2, `${version}: one card used`);
        t.match(cardData(taken!), { ssn: holder.ssn, cardNumber: v.cardNumber });
        t.match(s.region.job('J1'), { enabled: true, returned: { outcome: 'issued', cardId: toHex(taken!.cardId) } });
        if (step === 'write' && phase === 'after') t.equal(taken!.writeCount, 10, `${version}: read back found the records written, no second write`);
      }
    });
  }
}

t.test('[issue 20] device faults end in the retain bin with a failure 回盘', async (t) => {
  const s = site('2.00');
  t.teardown(s.cleanup);
  s.core.injectFault('stuck');
  // the stuck fault blocks the dispense move itself: no card leaves the hopper, nothing to retain
  const v = await s.service().start(app('J1'));
  t.match(v, { status: 'failed', step: 'dispense', error: { code: 'TERM_ERR_ISSUANCE_DEVICE' } });
  t.match(s.region.job('J1'), { returned: { outcome: 'failed', reason: 'TERM_ERR_ISSUANCE_DEVICE' } });
  s.core.clearFaults();
  // a jam while moving to the print station, after the card was written
  const s2 = site('3.00');
  t.teardown(s2.cleanup);
  const svc = s2.service({
    afterPersist: (_j, st, ph) => {
      if (st === 'print' && ph === 'before') s2.core.injectFault('stuck');
    },
  });
  const v2 = await svc.start(app('J2'));
  t.match(v2, { status: 'failed', step: 'print', retained: true, error: { code: 'TERM_ERR_ISSUANCE_DEVICE' } });
  t.equal(s2.core.retained.length, 1, 'the written card is in the retain bin');
  t.equal(s2.core.snapshot().position, 'none');
  t.match(s2.region.job('J2'), { returned: { outcome: 'failed' }, enabled: false });
  t.equal(s2.core.delivered.length, 0, 'no card released');
});

t.test('[issue 20] a back-office refusal after writing holds the card in the device until resumed', async (t) => {
  const s = site('2.00');
  t.teardown(s.cleanup);
  s.region.failNext('enableCard', 'timeout');
  const svc = s.service();
  const v = await svc.start(app('J1'));
  t.match(v, { status: 'held', step: 'enable', error: { code: 'TERM_ERR_ISSUANCE_BACK_OFFICE' } });
  t.equal(s.core.snapshot().position, 'print', 'the card stays inside');
  const v2 = await svc.resume('J1');
  t.match(v2, { status: 'issued' });
  t.ok(s.core.takeCard());
  t.equal(s.region.calls('markCard'), 1);
});

t.test('[issuance §11 item 10] power cut in the middle of the record writes: read back finds the gap, the job rewrites and issues', async (t) => {
  for (const version of ['2.00', '3.00'] as const) {
    const s = site(version);
    t.teardown(s.cleanup);
    const { createDeviceClient, deviceApduPort } = await import('../../src/issuance/device-client.ts');
    const { memoryLink } = await import('./fixtures.ts');
    const device = createDeviceClient(memoryLink(s.core));
    const ic = deviceApduPort(device, 'ic');
    let updates = 0;
    const tearing = {
      reset: () => ic.reset(),
      async transmit(apdu: Parameters<typeof ic.transmit>[0]) {
        if (apdu.ins === 0xdc && ++updates === 4) throw new PowerCut();
        return ic.transmit(apdu);
      },
    };
    await t.rejects(s.service({ card: tearing, device }).start(app('J1')), PowerCut);
    s.core.powerCycle();
    const half = s.core.card!;
    t.equal(half.writeCount, 3, `${version}: three records written before the cut`);
    const v = await s.service().resume('J1');
    t.match(v, { status: 'issued' });
    const taken = s.core.takeCard()!;
    t.equal(taken, half, 'the same card, no second one');
    t.match(cardData(taken), { ssn: holder.ssn, name: holder.name, cardNumber: v.cardNumber });
    t.equal(s.core.snapshot().stock, 2);
  }
});

t.test('[issuance §5.1 remark; ssc-card §10.1] a counterfeit blank fails internal authentication before any write', async (t) => {
  const { BlankCard } = await import('@onecard/simulators/src/issuance/blank-card.ts');
  const { fromHex } = await import('@onecard/protocol/bytes');
  const { roots } = await import('./fixtures.ts');
  const s = site('2.00', { stock: 0 });
  t.teardown(s.cleanup);
  const fake = new BlankCard({ version: '2.00', protocol: 0, seed: 1, region: '639900', cardSerial: fromHex('00BF0001'), cardAuthCode: fromHex('01020304'), cardType: '3', initOrg: '639900000001', roots: { ...roots, irk: fromHex('00'.repeat(16)) } });
  s.core.load([fake]);
  const v = await s.service().start(app('J1'));
  t.match(v, { status: 'failed', step: 'write', retained: true, error: { code: 'TERM_ERR_CARD_NOT_GENUINE' } });
  t.equal(fake.writeCount, 0, 'nothing written');
  t.equal(s.core.retained[0]!.card, fake);
  t.match(s.region.job('J1'), { returned: { outcome: 'failed', reason: 'TERM_ERR_CARD_NOT_GENUINE' } });
});
