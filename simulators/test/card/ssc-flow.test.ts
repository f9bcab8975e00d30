import t, { type Test } from 'tap';
import { fromHex, toHex } from '@onecard/protocol/bytes';
import { cardKey as protoCardKey, pinChangeUnblockCommand, sessionKey as protoSessionKey, purseDpk, purchaseTac, purchaseMac2, purseSessionKey as protoPurseSessionKey } from '@onecard/protocol/crypto';
import { loadCardFile, createSscCard, createPsam, createTransitCard, provinceFactor, cityFactor, cardFactor, sscCardKey, purseIssuerKey, t0Transmit, SSSE_KEY, decodeGbk, type UserCard, type Psam, type SscProfile, type PsamProfile, type TransitCardProfile } from '../../src/card/index.ts';

const cards = new URL('../../cards/', import.meta.url);
const load = (n: string) => loadCardFile(new URL(n, cards).pathname);
const p200 = load('ssc-2.00.json').profile as SscProfile;
const p300 = load('ssc-3.00-long-name.json').profile as SscProfile;
const pPsam = load('psam.json').profile as PsamProfile;
const pTransit = load('transit-only.json').profile as TransitCardProfile;

interface R { data: string; sw: string }
function tx(c: UserCard | Psam, hex: string): R {
  const r = c.transmit(fromHex(hex));
  return { data: toHex(r.subarray(0, r.length - 2)), sw: toHex(r.subarray(r.length - 2)) };
}
const SSSE = '00A404000F7378312E73682EC9E7BBE1B1A3D5CF';
const hx = (n: number, w = 2): string => n.toString(16).toUpperCase().padStart(w, '0');

function factors(card: UserCard, region: string): { f1: string; f2: string; f3: string } {
  return { f1: toHex(provinceFactor(region)), f2: toHex(cityFactor(region)), f3: toHex(cardFactor(card.atr.subarray(4))) };
}

/** Internal authentication verified through the PSAM [ssc-card §10.1]. */
function internalAuth(t: Test, card: UserCard, psam: Psam, sm4: boolean, region: string): void {
  const { f1, f2, f3 } = factors(card, region);
  const r1 = tx(psam, '0084000008').data;
  const r2 = tx(psam, '0084000008').data;
  const pad = sm4 ? '0000000000000000' : '';
  t.equal(tx(psam, `BFDE6708${hx(24 + 8 + pad.length / 2)}${f3}${f2}${f1}${r1}${pad}`).sw, '9000', 'PSAM DELIVERY SESSION KEY (IRK)');
  const x = tx(psam, `80FA0000${hx(8 + pad.length / 2)}${r2}${pad}`);
  t.equal(x.sw, '9000');
  const expected = sm4 ? toHex(fromHex(x.data).subarray(0, 8).map((b, i) => b ^ fromHex(x.data)[8 + i]!)) : x.data;
  const y = tx(card, `0088000010${r1}${r2}`);
  t.equal(y.sw, '9000');
  t.equal(y.data, expected, 'card answer matches the PSAM [ssc-card §10.1]');
}

/** External authentication with key `cardKeyId` computed by the PSAM key `psamKeyId` (2 levels). */
function externalAuth(card: UserCard, psam: Psam, sm4: boolean, region: string, usage: string, psamKeyId: string, cardKeyId: number, corrupt = false): R {
  const { f2, f3 } = factors(card, region);
  const c = tx(card, '0084000008').data;
  const o = tx(psam, '0084000008').data;
  const pad = sm4 ? '0000000000000000' : '';
  tx(psam, `BFDE${usage}${psamKeyId}${hx(16 + 8 + pad.length / 2)}${f3}${f2}${c}${pad}`);
  const x = fromHex(tx(psam, `80FA0000${hx(8 + pad.length / 2)}${o}${pad}`).data);
  let a = sm4 ? x.subarray(0, 8).map((b, i) => b ^ x[8 + i]!) : x;
  if (corrupt) a = a.map((b) => b ^ 1);
  return tx(card, `008200${hx(cardKeyId)}10${toHex(a)}${o}`);
}

function powered(): { c2: UserCard; c3: UserCard; psam: Psam } {
  const c2 = createSscCard(p200);
  const c3 = createSscCard(p300);
  const psam = createPsam(pPsam);
  c2.reset();
  c3.reset();
  psam.reset();
  return { c2, c3, psam };
}

t.test('SELECT SSSE returns the real FCI with 9F0C → 86 algorithm [ssc-card §1.2]', async (t) => {
  const { c2, c3 } = powered();
  t.same(tx(c3, SSSE), { data: '6F1C840F7378312E73682EC9E7BBE1B1A3D5CFA50988011E9F0C03860103', sw: '9000' });
  t.equal(tx(c2, SSSE).data.slice(-6), '860101', '2.00 card: DES/3DES');
  t.equal(tx(c2, '00A404000F7378322E73682EC9E7BBE1B1A3D5CF').sw, '6A82', 'unknown DF name');
});

t.test('ATR historical bytes: region and card serial [SPEC P2 §8.4]', async (t) => {
  const { c2 } = powered();
  t.equal(toHex(c2.atr), '3B6D000000814F4E458697639900BF7C7A');
  const t1 = createSscCard({ ...p200, protocol: 1 });
  t.equal(t1.protocol, 1);
  t.equal(toHex(t1.reset()).slice(0, 16), '3BED00008131FE45');
  t.equal(toHex(t1.reset()).slice(16, 42), toHex(c2.atr.subarray(4)), 'same historical bytes');
});

t.test('EF05 read by tag, by SFI and record number, whole file; 6Cxx on Le 00 [ssc-card §5.2]', async (t) => {
  const { c2 } = powered();
  tx(c2, SSSE);
  t.equal(tx(c2, '00A4020002EF05').sw, '9000');
  t.same(tx(c2, '00B2010012'), { data: '0110639900D156000005' + '00BF7C7A48FB4966', sw: '9000' });
  t.same(tx(c2, '00B2030006'), { data: '030432' + '2E3030', sw: '9000' });
  t.same(tx(c2, '00B2030000'), { data: '', sw: '6C06' }, 'Le 00 → 6C06');
  t.same(tx(c2, '00B2030004'), { data: '', sw: '6C06' }, 'wrong Le → 6C06');
  t.same(tx(c2, '00B2050006'), { data: '050420200101', sw: '9000' });
  t.same(tx(c2, '00B207000B'), { data: '0709' + toHex(new TextEncoder().encode('X00000019')), sw: '9000' });
  t.same(tx(c2, '00B2072C0B'), tx(c2, '00B207000B'), 'record 7 of SFI 5 by number');
  t.equal(tx(c2, '00B2080000').sw, '6A83', 'tag 08 is not in EF05');
  t.equal(tx(c2, '00B2010540').data.slice(0, 4), '0110', 'whole file from record 1');
  t.equal(tx(c2, '00B2014C00').sw, '6A82', 'SFI 9 does not exist');
  t.equal(tx(c2, '00A4020002EF09').sw, '6A82');
  t.equal(tx(c2, '00B0870002').data, '0000', 'EF07 by SFI (transparent)');
  t.equal(tx(c2, '00B2010012').sw, '6981', 'READ RECORD on the transparent EF07');
});

t.test('EF06 on 2.00 is free; the name and items decode', async (t) => {
  const { c2 } = powered();
  tx(c2, SSSE);
  tx(c2, '00A4020002EF06');
  t.equal(tx(c2, '00B2080014').data, '0812' + toHex(new TextEncoder().encode(p200.ssn)));
  const n = fromHex(tx(c2, '00B2090020').data);
  t.equal(decodeGbk(n.subarray(2, 6)), '张三');
  t.equal(tx(c2, '00B24E0016').data, '4E14' + '00'.repeat(20));
  t.equal(tx(c2, '00B20A0003').data, '0A0131');
  t.equal(tx(c2, '00B20B0003').data, '0B0101');
  t.equal(tx(c2, '00B20C0005').data, '0C03639900');
  t.equal(tx(c2, '00B20D0006').data, '0D0419700101');
  t.equal(tx(c2, '00B2010414').data.slice(0, 4), '0812', 'by absolute record number');
});

t.test('full 3.00 flow: SSSE, EF05, internal auth by PSAM, external auth RKSSSE, EF06 [ssc-card §5.4]', async (t) => {
  const { c3, psam } = powered();
  t.equal(tx(psam, '00A404000F7378322E73682EC9E7BBE1B1A3D5CF').sw, '9000', 'PSAM 16-byte environment');
  t.equal(tx(c3, SSSE).sw, '9000');
  tx(c3, '00A4020002EF05');
  const id = tx(c3, '00B2010012').data.slice(4);
  const region = id.slice(0, 6);
  t.equal(decodeGbk(fromHex(tx(c3, '00B2030006').data.slice(4))), '3.00');
  internalAuth(t, c3, psam, true, region);
  tx(c3, '00A4020002EF06');
  t.equal(tx(c3, '00B2080014').sw, '6982', 'EF06 needs RKSSSE on 3.00 [SC-IF §10.2]');
  t.equal(externalAuth(c3, psam, true, region, '47', '0A', SSSE_KEY.RKSSSE).sw, '9000', 'external auth RKSSSE');
  t.equal(tx(c3, '00B2080014').data, '0812' + toHex(new TextEncoder().encode(p300.ssn)));
  const name = fromHex(tx(c3, '00B2090020').data + tx(c3, '00B24E0016').data);
  t.ok(decodeGbk(name.subarray(2, 32)).startsWith('阿卜杜'), 'name part in 09');
  // re-selecting the SSSE ends the security state (firewall)
  tx(c3, SSSE);
  t.equal(tx(c3, '00B2083000').sw, '6982');
});

t.test('2.00 (3DES) internal authentication through the PSAM DES environment', async (t) => {
  const { c2, psam } = powered();
  tx(c2, SSSE);
  internalAuth(t, c2, psam, false, p200.region);
  // a wrong IRK factor gives a different value
  const r = tx(c2, '00880000100000000000000000' + '000000000000000000');
  t.equal(r.data.length, 16);
});

t.test('external authentication: 63Cx counting down, 6983 locked, 6984 without challenge [ssc-card §10.2]', async (t) => {
  const { c3, psam } = powered();
  tx(psam, '00A404000F7378322E73682EC9E7BBE1B1A3D5CF');
  tx(c3, SSSE);
  t.equal(tx(c3, '0082000A10' + '00'.repeat(16)).sw, '6984', 'no challenge');
  t.equal(externalAuth(c3, psam, true, p300.region, '47', '0A', 0x0a, true).sw, '63C2');
  t.equal(externalAuth(c3, psam, true, p300.region, '47', '0A', 0x0a, true).sw, '63C1');
  t.equal(externalAuth(c3, psam, true, p300.region, '47', '0A', 0x0a).sw, '9000', 'success resets the counter');
  t.equal(c3.keyTriesLeft(0x0a), 3);
  for (const sw of ['63C2', '63C1', '63C0']) t.equal(externalAuth(c3, psam, true, p300.region, '47', '0A', 0x0a, true).sw, sw);
  t.equal(externalAuth(c3, psam, true, p300.region, '47', '0A', 0x0a).sw, '6983', 'locked even with the right data');
  t.equal(tx(c3, '0082000B10' + '00'.repeat(16)).sw, '6A88', 'unknown key');
  c3.reset();
  tx(c3, SSSE);
  t.equal(externalAuth(c3, psam, true, p300.region, '47', '0A', 0x0a).sw, '6983', 'the lock survives reset');
});

t.test('VERIFY: probe, wrong PIN counting down, lock, 6983 [ssc-card §11]', async (t) => {
  const { c2 } = powered();
  t.equal(tx(c2, '0020000003123456').sw, '6985', 'SSSE not selected');
  tx(c2, SSSE);
  t.equal(tx(c2, '0020000000').sw, '63C3', 'probe reports tries');
  t.equal(tx(c2, '0020000003123456').sw, '9000');
  t.ok(c2.pinVerified);
  t.equal(tx(c2, '0020000003111111').sw, '63C2');
  t.equal(tx(c2, '0020000003111111').sw, '63C1');
  t.equal(tx(c2, '0020000003123456').sw, '9000', 'right PIN resets');
  t.equal(tx(c2, '0020000003111111').sw, '63C2');
  t.equal(tx(c2, '0020000003111111').sw, '63C1');
  t.equal(tx(c2, '0020000003111111').sw, '63C0');
  t.equal(tx(c2, '0020000003123456').sw, '6983');
  t.equal(tx(c2, '0020000000').sw, '6983');
  t.equal(tx(c2, '00200000091234567890123456').sw, '6700');
});

t.test('CHANGE PIN 805E: wrong old PIN, success, new PIN verifies [ssc-card §11]', async (t) => {
  const { c2 } = powered();
  tx(c2, SSSE);
  t.equal(tx(c2, '805E010007111111FF654321').sw, '63C2');
  t.equal(tx(c2, '805E010007123456FF65432F').sw, '9000', 'odd-length new PIN');
  t.equal(tx(c2, '0020000003123456').sw, '63C2');
  t.equal(tx(c2, '002000000365432F').sw, '9000');
  t.equal(tx(c2, '805E010006123456AB5432').sw, '6A80', 'no FF separator');
  t.equal(tx(c2, '805E01000565432FFF12').sw, '6A80', 'new PIN too short');
});

for (const [label, profile, usageEnv] of [['2.00 3DES', p200, 'des'], ['3.00 SM4', p300, 'sm4']] as const) {
  t.test(`PIN unblock and reload 8424 with secure messaging, ${label} [ssc-card §7.9]`, async (t) => {
    const card = createSscCard(profile);
    const psam = createPsam(pPsam);
    card.reset();
    psam.reset();
    const sm4 = usageEnv === 'sm4';
    if (sm4) tx(psam, '00A404000F7378322E73682EC9E7BBE1B1A3D5CF');
    tx(card, SSSE);
    for (let i = 0; i < 3; i++) tx(card, '0020000002' + '9999');
    t.equal(tx(card, '0020000000').sw, '6983', 'PIN locked');
    t.equal(tx(card, '8424000004' + '00000000').sw, '6982', 'no external authentication with the PUK');
    t.equal(externalAuth(card, psam, sm4, profile.region, '48', '10', SSSE_KEY.PUK).sw, '9000', 'external auth PUK');
    t.equal(tx(card, '8424000004' + '00000000').sw, '6984', 'no challenge');
    // unblock through the PSAM (STK, PSAM key 09): MAC over the header with a fresh challenge
    const { f2, f3 } = factors(card, profile.region);
    const pad = sm4 ? '0000000000000000' : '';
    let c = tx(card, '0084000008').data;
    tx(psam, `BFDE4809${hx(24 + pad.length / 2)}${f3}${f2}${c}${pad}`);
    const bs = sm4 ? 16 : 8;
    const macIn = (body: string): string => {
      const b = fromHex(body);
      const n = Math.ceil((b.length + 1) / bs) * bs;
      const out = new Uint8Array(n);
      out.set(b);
      out[b.length] = 0x80;
      return '00'.repeat(bs) + toHex(out);
    };
    const mac = tx(psam, `80FA0500${hx(bs + Math.ceil(6 / bs) * bs)}${macIn('8424000004')}`).data;
    t.equal(mac.length, 8);
    t.equal(tx(card, '8424000004' + mac).sw, '9000', 'unblocked');
    t.equal(tx(card, '0020000000').sw, '63C3', 'counter reset');
    // a wrong MAC
    c = tx(card, '0084000008').data;
    t.equal(tx(card, '8424000004' + '01020304').sw, '6988');
    // reload to 8888 with the protocol codec as the terminal (cross-check of cryptogram + MAC)
    c = tx(card, '0084000008').data;
    const stk = sscCardKey(profile, profile.keys.stk);
    const ks = protoSessionKey(protoCardKey(sm4 ? 'sm4' : '3des', stk), fromHex(c));
    const cmd = pinChangeUnblockCommand({ sessionKey: ks, newPin: '8888' });
    t.equal(toHex(card.transmit(cmd)), '9000', 'reload accepted');
    t.equal(tx(card, '00200000028888').sw, '9000', 'new PIN verifies');
  });
}

t.test('purchase on the 3.00 card: MAC1 from the PSAM, MAC2 verified by the PSAM, TAC [transit-purse §6]', async (t) => {
  const { c3, psam } = powered();
  t.equal(tx(c3, '00A4040008A000000632010105').sw, '9000');
  const info = tx(c3, '00B095001E').data;
  t.equal(info.length, 60);
  const term = tx(psam, '00B0960006').data;
  t.equal(term, '639900000001');
  t.equal(tx(psam, '00B0970001').data, '01');
  t.same(tx(c3, '805C000204'), { data: hx(2000, 8), sw: '9000' });
  const init = tx(c3, `805001020B01${hx(150, 8)}${term}0F`);
  t.equal(init.sw, '9000');
  const random = init.data.slice(22, 30);
  const atc = init.data.slice(8, 12);
  t.equal(atc, '0007');
  const dt = '20240501123000';
  const serial8 = info.slice(24, 40);
  const m1 = tx(psam, `8070000024${random}${atc}${hx(150, 8)}06${dt}${init.data.slice(18, 20)}${init.data.slice(20, 22)}${serial8}${info.slice(0, 16)}08`);
  t.equal(m1.sw, '9000');
  const debit = tx(c3, `805401000F${m1.data.slice(0, 8)}${dt}${m1.data.slice(8)}08`);
  t.equal(debit.sw, '9000');
  t.equal(tx(psam, `8072000004${debit.data.slice(8)}`).sw, '9000', 'PSAM accepts MAC2');
  t.same(tx(c3, '805C000204').data, hx(1850, 8));
  // independent TAC check with the protocol codec and the issuer test keys
  const tp = p300.transit!;
  const dtk = purseDpk(protoCardKey('3des', purseIssuerKey(tp.mtk, tp.issuerFactor)), fromHex(serial8));
  const tac = purchaseTac(dtk, { amount: 150, transactionType: 6, terminalId: fromHex(term), dateTime: fromHex(dt), terminalSerial: fromHex(m1.data.slice(0, 8)) });
  t.equal(debit.data.slice(0, 8), toHex(tac), 'TAC matches JR/T 0025.2 B.4');
  const dpk = purseDpk(protoCardKey('3des', purseIssuerKey(tp.mpk, tp.issuerFactor)), fromHex(serial8));
  const sespk = protoPurseSessionKey(dpk, { cardRandom: fromHex(random), atc: 7, terminalSerial: fromHex(m1.data.slice(0, 8)) });
  t.equal(debit.data.slice(8), toHex(purchaseMac2(sespk, 150)), 'MAC2 matches');
  // log record 1 is the newest
  const log = tx(c3, '00B201C417');
  t.equal(log.data, `0007000000${hx(150, 8)}06${term}${dt}`);
  t.equal(tx(c3, '00B202C417').sw, '6A83');
  // bad MAC2 at the PSAM
  tx(c3, `805001020B01${hx(1, 8)}${term}0F`);
  t.equal(tx(psam, '8072000004' + '00000000').sw, '6901', 'no MAC1 context');
});

t.test('transit failures: 9401, 9403, MAC1 invalid 9302, 6901 out of sequence [transit-purse §6.2]', async (t) => {
  const card = createTransitCard(pTransit);
  card.reset();
  t.equal(card.protocol, 1);
  tx(card, '00A4040008A000000632010105');
  t.equal(tx(card, `805001020B01${hx(501, 8)}63990000000100`).sw, '9401', 'insufficient funds');
  t.equal(tx(card, `805001020B02${hx(1, 8)}639900000001`).sw, '9403', 'key index');
  t.equal(tx(card, `805401000F${'00'.repeat(15)}`).sw, '6901', 'debit without initialize');
  t.equal(tx(card, `805001020B01${hx(100, 8)}639900000001`).sw, '9000');
  t.equal(tx(card, `805401000F${'00'.repeat(15)}`).sw, '9302', 'MAC1 invalid');
  t.equal(tx(card, '805C000204').data, hx(500, 8), 'balance unchanged');
  t.equal(tx(card, '00B201C417').sw, '6A83', 'no log record');
});

function purchase(card: UserCard, psam: Psam, amount: number): { init: R; m1: R; term: string; dt: string } {
  const info = tx(card, '00B095001E').data;
  const term = tx(psam, '00B0960006').data;
  const init = tx(card, `805001020B01${hx(amount, 8)}${term}`);
  const dt = '20240601080000';
  const m1 = tx(psam, `8070000024${init.data.slice(22, 30)}${init.data.slice(8, 12)}${hx(amount, 8)}06${dt}${init.data.slice(18, 22)}${info.slice(24, 40)}${info.slice(0, 16)}`);
  return { init, m1, term, dt };
}

t.test('interrupted debit and GET TRANSACTION PROVE, ATC + 1 convention [transit-purse §8]', async (t) => {
  const card = createTransitCard(pTransit);
  const psam = createPsam(pPsam);
  card.reset();
  psam.reset();
  tx(card, '00A4040008A000000632010105');
  // torn after the debit: the response is lost, the debit happened
  let p = purchase(card, psam, 120);
  card.injectTear('after-commit');
  t.throws(() => tx(card, `805401000F${p.m1.data.slice(0, 8)}${p.dt}${p.m1.data.slice(8)}`), { code: 'SIM_ERR_CARD_TORN' });
  t.throws(() => tx(card, '805C000204'), { code: 'SIM_ERR_CARD_MUTE' }, 'mute until reset');
  card.reset();
  tx(card, '00A4040008A000000632010105');
  t.equal(tx(card, '805A000602' + '0000').sw, '9406', 'the INITIALIZE ATC is refused under the next convention');
  const proof = tx(card, '805A000602' + '0001');
  t.equal(proof.sw, '9000');
  t.equal(card.transit!.lastProveConvention, 'next');
  t.equal(tx(psam, `8072000004${proof.data.slice(0, 8)}`).sw, '9000', 'MAC2 from the proof verifies in the open PSAM context');
  t.equal(tx(card, '805C000204').data, hx(380, 8));
  // torn before the debit: nothing happened, prove still points at the previous purchase only
  p = purchase(card, psam, 50);
  card.injectTear('before-commit');
  t.throws(() => tx(card, `805401000F${p.m1.data.slice(0, 8)}${p.dt}${p.m1.data.slice(8)}`), { code: 'SIM_ERR_CARD_TORN' });
  card.reset();
  tx(card, '00A4040008A000000632010105');
  t.equal(tx(card, '805A000602' + '0002').sw, '9406', 'no debit → 9406');
  t.equal(tx(card, '805C000204').data, hx(380, 8), 'balance unchanged');
  t.equal(tx(card, '805A000902' + '0001').sw, '9406', 'wrong transaction type');
});

t.test('GET TRANSACTION PROVE with the same-ATC convention', async (t) => {
  const card = createTransitCard({ ...pTransit, transit: { ...pTransit.transit, proveAtc: 'same' } });
  const psam = createPsam(pPsam);
  card.reset();
  psam.reset();
  tx(card, '00A4040008A000000632010105');
  const p = purchase(card, psam, 10);
  const d = tx(card, `805401000F${p.m1.data.slice(0, 8)}${p.dt}${p.m1.data.slice(8)}`);
  t.equal(d.sw, '9000');
  t.equal(tx(card, '805A000602' + '0001').sw, '9406');
  t.same(tx(card, '805A000602' + '0000').data, d.data.slice(8) + d.data.slice(0, 8), 'MAC2 ‖ TAC');
});

t.test('financial stub: SELECT, GPO, READ RECORD → 5A [ssc-card §14]', async (t) => {
  const { c3 } = powered();
  t.equal(tx(c3, '00A404000E315041592E5359532E4444463031').sw, '9000', 'PSE');
  t.equal(tx(c3, '00A4040008A000000333010101').sw, '9000');
  t.same(tx(c3, '80A80000028300'), { data: '80067C0008010100', sw: '9000' });
  const rec = tx(c3, '00B2010C00');
  t.equal(rec.sw.slice(0, 2), '6C');
  const r = tx(c3, `00B2010C${rec.sw.slice(2)}`).data;
  t.match(r, /5A0A6200000000000000001F/);
  t.equal(tx(c3, '80A8000000').sw, '6A80', 'GPO without the 83 template');
});

t.test('T=0 TPDU adapter: 61xx and GET RESPONSE, 6Cxx on Le 00 [7816-3 §10.3]', async (t) => {
  const { c2 } = powered();
  const send = (h: string): string => toHex(t0Transmit(c2, fromHex(h)));
  t.equal(send(SSSE), '611E');
  t.equal(send('00C000001E'), '6F1C840F7378312E73682EC9E7BBE1B1A3D5CFA50988011E9F0C030601019000'.replace('0601', '8601'));
  t.equal(send('00A4020002EF05'), '9000');
  t.equal(send('00B2030000'), '6C06');
  t.equal(send('00B2030006'), '0304322E30309000');
  t.equal(send('00C0000008'), '6985', 'nothing pending');
  t.equal(send('008800001000000000000000000000000000000000'), '6108');
  t.equal(send('00C0000004').slice(-4), '6104', 'partial GET RESPONSE');
  t.equal(send('00C0000004').slice(-4), '9000');
  t.throws(() => t0Transmit(c2, fromHex('00B201')), { code: 'SIM_ERR_CARD_TPDU' });
  t.throws(() => t0Transmit(c2, fromHex('00A40200030102')), { code: 'SIM_ERR_CARD_TPDU' });
});

t.test('random APDUs never crash a card and always end in a status word', async (t) => {
  const { c3, psam } = powered();
  let s = 99;
  const rnd = (n: number): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
  const insList = [0xa4, 0xb2, 0xb0, 0x84, 0x88, 0x82, 0x20, 0x24, 0x5e, 0x50, 0x54, 0x5a, 0x5c, 0xa8, 0xde, 0xfa, 0x70, 0x72, 0xc0, 0x00];
  for (let i = 0; i < 20000; i++) {
    const len = 4 + rnd(40);
    const a = Uint8Array.from({ length: len }, () => rnd(256));
    a[0] = [0x00, 0x80, 0x84, 0xbf, 0x10][rnd(5)]!;
    a[1] = insList[rnd(insList.length)]!;
    for (const c of [c3, psam]) {
      const r = c.transmit(a);
      if (r.length < 2) {
        t.fail('no status word');
        return;
      }
    }
  }
  t.pass('20000 random APDUs answered');
});
