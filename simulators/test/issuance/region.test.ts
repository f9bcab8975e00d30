import t from 'tap';
import { fromHex, toHex } from '@onecard/protocol/bytes';
import { encodeCommandApdu } from '@onecard/protocol/iso7816';
import { externalAuthenticate, getChallenge, selectByName, SSSE_DF_NAME, isValidCardNumber } from '@onecard/protocol/ssc';
import { recordWrites } from '@onecard/protocol/issuance';
import { FakeRegion, type FakeHolder } from '../../src/issuance/region.ts';
import { BlankCard } from '../../src/issuance/blank-card.ts';

const key = fromHex('544553542D554B2D2D49535355452D31');
const roots = { irk: key, stk: key, ukssse: key, bk: key, puk: key, rkssse: key };
const holder: FakeHolder = { ssn: '11010519491231002X', name: '张三', sex: '1', ethnicGroup: '01', birthplace: '110105', birthDate: '19491231' };
const clock = (): Date => new Date(Date.UTC(2026, 11, 7, 12));
const region = (): FakeRegion => new FakeRegion({ region: '639900', holders: [holder, { ...holder, ssn: '110105194912310029' }], ukssseRoot: key, clock });
const app = { jobId: 'J1', region: '639900', ssn: holder.ssn, name: holder.name, kind: 'new' as const };

t.test('[issuance §9.3] 标注, 制卡数据, 回盘, 启用: idempotent per job, refusals', async (t) => {
  const r = region();
  const m = await r.markCard(app);
  t.same(await r.markCard(app), m, 'same job, same batch');
  await t.rejects(r.markCard({ ...app, jobId: 'J2' }), { code: 'SIM_ERR_SERVICE_REFUSED', details: { reason: 'job-open' } });
  await t.rejects(r.markCard({ ...app, jobId: 'J3', ssn: '000000000000000000' }), { code: 'SIM_ERR_SERVICE_REFUSED', details: { reason: 'unknown-holder' } });
  await t.rejects(r.markCard({ ...app, jobId: 'J4', region: '110000' }), { code: 'SIM_ERR_SERVICE_REFUSED', details: { reason: 'other-region' } });
  await t.rejects(r.enableCard('J1', 'x'), { code: 'SIM_ERR_SERVICE_REFUSED', details: { reason: 'not-returned' } });
  const d = await r.getCardData('J1', m.batch);
  t.same(await r.getCardData('J1', m.batch), d, 'same card number on retry');
  t.ok(isValidCardNumber(d.cardNumber));
  t.equal(d.items.issueDate, '20261207');
  t.equal(d.items.expiryDate, '20361207');
  t.notOk(d.face.join(' ').includes(holder.ssn), 'face masks the citizen ID');
  await t.rejects(r.getCardData('J1', 'B0'), { code: 'SIM_ERR_SERVICE_REFUSED', details: { reason: 'batch-differs' } });
  const ret = { jobId: 'J1', outcome: 'issued' as const, batch: m.batch, cardNumber: d.cardNumber, cardId: 'AA', atr: '3B' };
  await t.rejects(r.returnCardData({ ...ret, cardNumber: 'Z00000000' }), { code: 'SIM_ERR_SERVICE_REFUSED', details: { reason: 'card-number-differs' } });
  await r.returnCardData(ret);
  await r.returnCardData(ret);
  await t.rejects(r.returnCardData({ ...ret, cardId: 'BB' }), { code: 'SIM_ERR_SERVICE_REFUSED', details: { reason: 'second-card' } });
  await r.enableCard('J1', d.cardNumber);
  await r.enableCard('J1', d.cardNumber);
  t.match(r.job('J1'), { enabled: true, cardNumber: d.cardNumber });
  r.failNext('enableCard', 'timeout');
  await t.rejects(r.enableCard('J1', d.cardNumber), { code: 'SIM_ERR_SERVICE_REFUSED', details: { reason: 'timeout' } });
  await r.enableCard('J1', d.cardNumber);
  t.equal(r.calls('enableCard'), 5, 'refusals counted');
  await r.markCard({ ...app, jobId: 'J5' });
  t.pass('a new job once the previous card is enabled');
});

t.test('[SC-IF §3; issuance §6] HSM-mode authentication against the blank card; replay and address refused', async (t) => {
  for (const version of ['2.00', '3.00'] as const) {
    const r = region();
    await r.markCard(app);
    const card = new BlankCard({ version, protocol: 0, seed: 9, region: '639900', cardSerial: fromHex('00000009'), cardAuthCode: fromHex('01020304'), cardType: '3', initOrg: '639900000001', roots });
    card.reset();
    const tx = (a: Parameters<typeof encodeCommandApdu>[0]): { data: Uint8Array; sw: number } => {
      const b = card.transmit(encodeCommandApdu(a));
      return { data: b.slice(0, -2), sw: (b[b.length - 2]! << 8) | b[b.length - 1]! };
    };
    tx(selectByName(SSSE_DF_NAME));
    const original = tx(getChallenge(8)).data;
    const factor = tx(getChallenge(8)).data;
    const step1 = { algorithm: version === '3.00' ? (3 as const) : (1 as const), keyAddress: '0094', sessionFactor: factor, original };
    const req = { jobId: 'J1', region: '639900', step1, cardId: toHex(card.cardId), historicalBytes: toHex(card.historicalBytes) };
    const k = await r.hsmExternalAuth(req);
    t.equal(toHex(k.subarray(8)), toHex(original));
    t.equal(tx(externalAuthenticate(0x04, k.subarray(0, 8), original, version === '3.00' ? 1 : undefined)).sw, 0x9000, `${version} UKSSSE by HSM`);
    t.equal(tx(recordWrites({ issueDate: '20261207' })[0]!.apdu).sw, 0x9000);
    await t.rejects(r.hsmExternalAuth(req), { code: 'SIM_ERR_SERVICE_REFUSED', details: { reason: 'replay' } });
    await t.rejects(r.hsmExternalAuth({ ...req, step1: { ...step1, sessionFactor: fromHex('0000000000000001'), keyAddress: '004C' } }), { code: 'SIM_ERR_SERVICE_REFUSED', details: { reason: 'key-address' } });
    await t.rejects(r.hsmExternalAuth({ ...req, cardId: '11' + req.cardId.slice(2), step1: { ...step1, sessionFactor: fromHex('0000000000000002') } }), { code: 'SIM_ERR_SERVICE_REFUSED', details: { reason: 'card-id' } });
    await t.rejects(r.hsmExternalAuth({ ...req, jobId: 'nope' }), { code: 'SIM_ERR_SERVICE_REFUSED', details: { reason: 'unknown-job' } });
  }
});
