import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { loadCardFile, parseCardFile, createCard, decodeGbk, createSscCard, parseSscProfile } from '../../src/card/index.ts';
import { SimulatorError } from '../../src/errors.ts';
import { decodeAtr } from '@onecard/protocol/iso7816';
import { isValidCardNumber, validateCitizenId } from '@onecard/protocol/ssc';

const dir = new URL('../../cards/', import.meta.url);
const json = (name: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(name, dir), 'utf8')) as Record<string, unknown>;

t.test('every example card loads, is marked as test keys and answers an ATR', async (t) => {
  for (const name of ['ssc-2.00.json', 'ssc-3.00-long-name.json', 'transit-only.json', 'psam.json']) {
    const f = loadCardFile(new URL(name, dir).pathname);
    t.equal(json(name)['testKeys'], true, `${name} says testKeys`);
    t.match(String(json(name)['$comment']), /TEST KEYS/, `${name} comment marks the keys as test keys`);
    const card = createCard(f);
    const atr = card.reset();
    t.equal(atr[0], 0x3b, `${name} ATR TS`);
    t.doesNotThrow(() => decodeAtr(atr), `${name} ATR decodes with the protocol codec`);
  }
});

t.test('example holder data passes the protocol check digits [SPEC V2 app. A; GB 11643]', async (t) => {
  for (const name of ['ssc-2.00.json', 'ssc-3.00-long-name.json']) {
    const j = json(name);
    t.ok(isValidCardNumber(String(j['cardNumber'])), `${name} card number`);
    t.doesNotThrow(() => validateCitizenId(String(j['ssn'])), `${name} SSN`);
  }
});

function expectField(t: Test, mutate: (o: Record<string, unknown>) => void, field: string, base = 'ssc-3.00-long-name.json'): void {
  const o = json(base);
  mutate(o);
  try {
    parseCardFile(o);
    t.fail(`expected SIM_ERR_CARD_FILE for ${field}`);
  } catch (err) {
    t.ok(err instanceof SimulatorError, 'SimulatorError');
    t.equal((err as SimulatorError).code, 'SIM_ERR_CARD_FILE');
    t.equal((err as SimulatorError).details['field'], field, `field ${field}`);
  }
}

t.test('validation names the failing field', async (t) => {
  expectField(t, (o) => { o['testKeys'] = false; }, 'testKeys');
  expectField(t, (o) => { delete o['testKeys']; }, 'testKeys');
  expectField(t, (o) => { o['kind'] = 'x'; }, 'kind');
  expectField(t, (o) => { o['cardNumber'] = 'D21435690'; }, 'cardNumber');
  expectField(t, (o) => { o['ssn'] = '000000198002020003'; }, 'ssn');
  expectField(t, (o) => { o['name'] = '阿'.repeat(26); }, 'name');
  expectField(t, (o) => { o['name'] = ''; }, 'name');
  expectField(t, (o) => { o['name'] = '😀'; }, 'name');
  expectField(t, (o) => { o['sex'] = '3'; }, 'sex');
  expectField(t, (o) => { o['nation'] = 1; }, 'nation');
  expectField(t, (o) => { o['birthDate'] = '19801302'; }, 'birthDate');
  expectField(t, (o) => { o['pin'] = '12a4'; }, 'pin');
  expectField(t, (o) => { o['pinTries'] = 0; }, 'pinTries');
  expectField(t, (o) => { o['region'] = '63990'; }, 'region');
  expectField(t, (o) => { o['cardIdentificationCode'] = '310000D156000005010203044A5B6C7D'; }, 'cardIdentificationCode');
  expectField(t, (o) => { (o['keys'] as Record<string, unknown>)['irk'] = '00'; }, 'keys.irk');
  expectField(t, (o) => { delete o['keys']; }, 'keys');
  expectField(t, (o) => { (o['transit'] as Record<string, unknown>)['serial'] = '1'; }, 'transit.serial');
  expectField(t, (o) => { ((o['transit'] as Record<string, unknown>)['keys'] as Record<string, unknown>)['mtk'] = 'zz'; }, 'transit.keys.mtk');
  expectField(t, (o) => { (o['financial'] as Record<string, unknown>)['expiry'] = '3313'; }, 'financial.expiry');
  expectField(t, (o) => { (o['keys'] as unknown[]).push({ env: 'des', id: '0B', usage: '47', root: '00'.repeat(16) }); }, 'keys[8].region', 'psam.json');
  expectField(t, (o) => { o['terminalNumber'] = '12'; }, 'terminalNumber', 'psam.json');
  expectField(t, (o) => { (o['transit'] as Record<string, unknown>)['balance'] = -1; }, 'transit.balance', 'transit-only.json');
});

t.test('held-out conformance findings: card files a terminal cannot read back are refused, naming the field', async (t) => {
  // A 50-byte name whose 2-byte character straddles byte 30: split at the character boundary, 21
  // bytes would be left for the 20 of 4E and its last character would be cut in half.
  const straddling = `A${'阿'.repeat(24)}B`;
  expectField(t, (o) => { o['name'] = straddling; }, 'name');
  // 50 bytes that split cleanly (30 + 20) are still fine.
  t.doesNotThrow(() => parseCardFile({ ...json('ssc-3.00-long-name.json'), name: '阿'.repeat(25) }));
  // Impossible calendar days [SPEC V2 table 10: cn dates].
  expectField(t, (o) => { o['expiryDate'] = '20290230'; }, 'expiryDate');
  expectField(t, (o) => { o['issueDate'] = '20230431'; }, 'issueDate');
  expectField(t, (o) => { o['birthDate'] = '19810229'; }, 'birthDate');
  t.doesNotThrow(() => parseCardFile({ ...json('ssc-3.00-long-name.json'), birthDate: '19800229' }), 'a real leap day');
  expectField(t, (o) => { (o['transit'] as Record<string, unknown>)['expiryDate'] = '20290230'; }, 'transit.expiryDate');
  expectField(t, (o) => { (o['transit'] as Record<string, unknown>)['startDate'] = '20230229'; }, 'transit.startDate', 'transit-only.json');
  // An issuer factor other than the issuer ID would make every purchase fail with 9302.
  expectField(t, (o) => { (o['transit'] as Record<string, unknown>)['issuerFactor'] = '0263990000000001'; }, 'transit.issuerFactor');
  expectField(t, (o) => { (o['transit'] as Record<string, unknown>)['issuerFactor'] = '1122334455667788'; }, 'transit.issuerFactor', 'transit-only.json');
  t.doesNotThrow(() => {
    const o = json('ssc-3.00-long-name.json');
    (o['transit'] as Record<string, unknown>)['issuerFactor'] = (o['transit'] as Record<string, unknown>)['issuerId'];
    parseCardFile(o);
  }, 'an issuer factor equal to the issuer ID');
});

t.test('loadCardFile reports unreadable and non-JSON files', async (t) => {
  t.throws(() => loadCardFile('/nonexistent/card.json'), { code: 'SIM_ERR_CARD_FILE' });
  t.throws(() => loadCardFile(new URL('../../src/card/index.ts', import.meta.url).pathname), { code: 'SIM_ERR_CARD_FILE' });
});

t.test('a long name spills from 09 into 4E at a character boundary [SPEC V2 table 10; SC-IF §1.1.3(7)]', async (t) => {
  const p = parseSscProfile(json('ssc-3.00-long-name.json'));
  t.ok(p.nameGbk.length > 30, 'the example name is longer than 30 GBK bytes');
  const card = createSscCard(p);
  card.reset();
  // EF06 is read-protected on 3.00; read the records through a 2.00-style profile of the same data.
  const open = createSscCard({ ...p, ef06Protected: false });
  open.reset();
  const sel = open.transmit(Uint8Array.of(0x00, 0xa4, 0x04, 0x00, 0x0f, 0x73, 0x78, 0x31, 0x2e, 0x73, 0x68, 0x2e, 0xc9, 0xe7, 0xbb, 0xe1, 0xb1, 0xa3, 0xd5, 0xcf));
  t.equal(sel[sel.length - 2], 0x90);
  const n09 = open.transmit(Uint8Array.of(0x00, 0xb2, 0x09, 0x30, 0x20));
  const n4e = open.transmit(Uint8Array.of(0x00, 0xb2, 0x4e, 0x30, 0x16));
  t.equal(n09.length, 34);
  t.equal(n4e.length, 24);
  const strip = (b: Uint8Array): Uint8Array => {
    let e = b.length;
    while (e > 0 && b[e - 1] === 0) e--;
    return b.subarray(0, e);
  };
  const whole = decodeGbk(strip(n09.subarray(2, 32))) + decodeGbk(strip(n4e.subarray(2, 22)));
  t.equal(whole, p.name);
});

t.test('random mutations of a card file fail only with SIM_ERR_CARD_FILE', async (t) => {
  const base = json('ssc-3.00-long-name.json');
  const keys = Object.keys(base);
  const values: unknown[] = [null, 1, -1, 'x', '', [], {}, true, '00', 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF', 1.5, '20201340'];
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  let rejected = 0;
  for (let i = 0; i < 2000; i++) {
    const o = structuredClone(base);
    o[keys[rnd(keys.length)]!] = values[rnd(values.length)];
    try {
      createCard(parseCardFile(o)).reset();
    } catch (err) {
      if (!(err instanceof SimulatorError) || err.code !== 'SIM_ERR_CARD_FILE') {
        t.fail(`unexpected error ${String(err)}`);
        return;
      }
      rejected++;
    }
  }
  t.ok(rejected > 1000, `most mutations rejected (${rejected})`);
});
