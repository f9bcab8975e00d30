import t from 'tap';
import { mkdtempSync, rmSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync, createPublicKey } from 'node:crypto';
import { fromHex, toHex } from '@onecard/protocol/bytes';
import { wrapKeyBlock, kcvOptionalBlock } from '@onecard/protocol/crypto';
import { createCardFromFile, type UserCard } from '@onecard/simulators';
import { deriveKbpk, KBPK_INFO } from '../../src/agent/kbpk.ts';
import { openKeystore, KEYS_FILE, type KeyLoadEntry } from '../../src/agent/keystore.ts';
import { SoftSam } from '../../src/agent/soft-sam.ts';
import { createMemoryChannel } from '../../src/card/memory-channel.ts';
import { createMemoryJournal } from '../../src/services/journal.ts';
import { purchase } from '../../src/services/purchase.ts';

// Fixed keys; the expected KBPK was computed independently with OpenSSL 3.0:
//   openssl pkeyutl -derive -inkey A.pem -peerkey B.pub | HKDF(SHA256, salt "Tdeadbeef00112233",
//   info "OneCard KBPK v1 TR-31 K1 AES-256", 32)
const A_PRIV = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgHs6Z2BzoBG8pzMS8
kLKc9uwmpqPYBy+OTC6pNJuyNwyhRANCAATC0hlb8aL5nFRuQ5qdZyQW93IKO81M
RHuZBPjp8oFP/mta0pHmCtuyqMREW+CtCDFGmCofX12/1Klir1tAHN3V
-----END PRIVATE KEY-----`;
const B_PRIV = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQglt0e9gJYCPIksCeJ
ZswsfrIeL041rIKiTkGj/LVk2vihRANCAAQWh7m3SGHw1acSQgVQ2LnNjf1lmLpc
FLmlx7vBRqYSu5ySn6foy/UjGfJCVY6bo+ZvOixcnDBCjNRGzJsq5HAC
-----END PRIVATE KEY-----`;
const B_PUB_B64 = 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEFoe5t0hh8NWnEkIFUNi5zY39ZZi6XBS5pce7wUamEruckp+n6Mv1IxnyQlWOm6PmbzosXJwwQozURsybKuRwAg==';
const A_PUB_B64 = 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEwtIZW/Gi+ZxUbkOanWckFvdyCjvNTER7mQT46fKBT/5rWtKR5grbsqjERFvgrQgxRpgqH19dv9SpYq9bQBzd1Q==';
const KBPK_VECTOR = '22D0BE50124D5A96F88C86B997B325BE1F40E60BA2BFB1CA03B11DEE58FA7F3D';

t.test('[ONECARD KBPK] known answer and symmetry', async (t) => {
  t.equal(KBPK_INFO, 'OneCard KBPK v1 TR-31 K1 AES-256');
  t.equal(toHex(deriveKbpk(A_PRIV, B_PUB_B64, 'Tdeadbeef00112233')), KBPK_VECTOR, 'terminal side');
  t.equal(toHex(deriveKbpk(B_PRIV, A_PUB_B64, 'Tdeadbeef00112233')), KBPK_VECTOR, 'server side');
  t.not(toHex(deriveKbpk(A_PRIV, B_PUB_B64, 'Tdeadbeef00112234')), KBPK_VECTOR, 'salt = terminal id matters');
  const der = createPublicKey(B_PRIV).export({ type: 'spki', format: 'der' });
  t.equal(toHex(deriveKbpk(A_PRIV, new Uint8Array(der), 'Tdeadbeef00112233')), KBPK_VECTOR, 'DER input');
  t.throws(() => deriveKbpk(A_PRIV, B_PUB_B64, ''), { code: 'TERM_ERR_KBPK' });
  t.throws(() => deriveKbpk('not a key', B_PUB_B64, 'T1'), { code: 'TERM_ERR_KBPK' });
  const x25519 = generateKeyPairSync('x25519');
  t.throws(() => deriveKbpk(x25519.privateKey, B_PUB_B64, 'T1'), { code: 'TERM_ERR_KBPK' });
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  t.throws(() => deriveKbpk(A_PRIV, p384.publicKey, 'T1'), { code: 'TERM_ERR_KBPK' });
});

// The simulated transit card's FIXED TEST keys (simulators/cards/transit-only.json).
const MPK = fromHex('544553542D4D504B2D334445532D3031');
const MTK = fromHex('544553542D4D544B2D334445532D3031');
const card = () => createCardFromFile(new URL('../../../simulators/cards/transit-only.json', import.meta.url).pathname) as UserCard;

function block(kbpk: Uint8Array, usage: '61' | '62', key: Uint8Array, opts: { version?: string; label?: string; mode?: string } = {}): string {
  return wrapKeyBlock({
    kbpk,
    header: { keyUsage: usage, algorithm: 'T', modeOfUse: opts.mode ?? 'X', keyVersionNumber: opts.version ?? '01', exportability: 'N' },
    optionalBlocks: [kcvOptionalBlock('T', key), { id: 'LB', data: opts.label ?? 'ALG=00;LV=2' }],
    key,
  });
}
const kcvOf = (b: string): string => /KC0C00([0-9A-F]{6})/.exec(b)![1]!;

const root = mkdtempSync(join(tmpdir(), 'onecard-keys-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const kbpk = deriveKbpk(A_PRIV, B_PUB_B64, 'Tdeadbeef00112233');

t.test('keystore: verifies MAC and KCV, stores blocks wrapped at rest, reopens', async (t) => {
  const dir = join(root, 'ks1');
  const ks = await openKeystore(dir, kbpk);
  t.equal(ks.version, 0);
  const entries: KeyLoadEntry[] = [{ block: block(kbpk, '61', MPK) }, { block: block(kbpk, '62', MTK) }];
  entries.forEach((e) => Object.assign(e, { kcv: kcvOf(e.block) }));
  const infos = await ks.load(3, entries);
  t.same(infos.map((i) => [i.role, i.keyVersion, i.algorithmId, i.levels]), [['purchase', 1, 0, 2], ['tac', 1, 0, 2]]);
  t.match(infos[0]!.kcv, /^[0-9A-F]{6}$/);
  t.equal(infos[0]!.kcv, kcvOf(entries[0]!.block), 'computed KCV equals the KC block');
  const file = readFileSync(join(dir, KEYS_FILE), 'utf8');
  t.notMatch(file, toHex(MPK), 'no clear key at rest');
  t.notMatch(file, toHex(MTK));
  t.equal(statSync(join(dir, KEYS_FILE)).mode & 0o777, 0o600);
  const again = await openKeystore(dir, kbpk);
  t.equal(again.version, 3);
  t.same(again.list(), infos);
  t.same(toHex(again.purseKeys(1, 0).purchase.root.key), toHex(MPK));
  t.throws(() => again.purseKeys(2, 0), { code: 'TERM_ERR_KEY_NOT_FOUND' }, 'key version selected per card');
  t.throws(() => again.purseKeys(1, 1), { code: 'TERM_ERR_KEY_NOT_FOUND' });
  // Opening with another KBPK fails verification (MAC).
  await t.rejects(openKeystore(dir, deriveKbpk(B_PRIV, B_PUB_B64, 'X')), { code: 'TERM_ERR_KEY_BLOCK' });
});

t.test('keystore: rejected key sets change nothing', async (t) => {
  const dir = join(root, 'ks2');
  const ks = await openKeystore(dir, kbpk);
  await ks.load(1, [{ block: block(kbpk, '61', MPK) }]);
  const good = block(kbpk, '61', MPK);
  const tampered = good.slice(0, -40) + (good.at(-40) === 'A' ? 'B' : 'A') + good.slice(-39);
  await t.rejects(ks.load(2, [{ block: tampered }]), { code: 'TERM_ERR_KEY_BLOCK' }, 'MAC');
  await t.rejects(ks.load(2, [{ block: good, kcv: '000000' }]), { code: 'TERM_ERR_KEY_KCV' }, 'announced KCV differs');
  await t.rejects(ks.load(2, [{ block: block(kbpk, '61', MPK, { mode: 'C' }) }]), { code: 'TERM_ERR_KEY_BLOCK' }, 'mode of use');
  await t.rejects(ks.load(2, [{ block: block(kbpk, '61', MPK, { label: 'whatever' }) }]), { code: 'TERM_ERR_KEY_BLOCK' }, 'label');
  await t.rejects(ks.load(2, [{ block: block(kbpk, '62', MTK) }]), { code: 'TERM_ERR_KEY_BLOCK' }, 'no purchase key');
  await t.rejects(ks.load(2, [{ block: good }, { block: good }]), { code: 'TERM_ERR_KEY_BLOCK' }, 'duplicate');
  await t.rejects(ks.load(2, [{ block: 'D0016' }]), { code: 'TERM_ERR_KEY_BLOCK' });
  const other = deriveKbpk(B_PRIV, A_PUB_B64, 'Tother');
  await t.rejects(ks.load(2, [{ block: block(other, '61', MPK) }]), { code: 'TERM_ERR_KEY_BLOCK' }, 'wrapped for another terminal');
  t.equal(ks.version, 1);
  t.equal((await openKeystore(dir, kbpk)).version, 1);
  writeFileSync(join(dir, KEYS_FILE), '{');
  await t.rejects(openKeystore(dir, kbpk), { code: 'TERM_ERR_KEYSTORE_IO' });
});

t.test('soft SAM: full purchase with the purchase service against the simulated transit card; MAC2 and TAC check', async (t) => {
  const ks = await openKeystore(join(root, 'ks3'), kbpk);
  await ks.load(1, [{ block: block(kbpk, '61', MPK) }, { block: block(kbpk, '62', MTK) }]);
  const sam = new SoftSam({ keystore: ks, terminalNumber: '639900000001', nextSerial: (() => { let s = 41; return () => ++s; })() });
  const sim = card();
  const channel = createMemoryChannel(sim);
  const journal = createMemoryJournal();
  const now = Date.UTC(2025, 5, 1, 2, 0, 0);
  const res = await purchase({ card: channel, psam: sam, journal, amount: 120, clock: { now: () => now } });
  t.equal(res.kind, 'completed');
  if (res.kind !== 'completed') return;
  t.equal(res.balanceAfter, 380, 'the card accepted MAC1 and debited');
  t.equal(res.record.state, 'completed');
  t.equal(res.record.mac2Verified, true, 'MAC2 verified by the soft SAM');
  t.equal(res.record.terminalSerial, 42);
  const r = res.record;
  const tacOk = sam.verifyTac({
    keyVersion: r.keyVersion, algorithmId: r.algorithm, serial: fromHex(r.cardSerial).slice(-8), factor: fromHex(r.issuerId),
    amount: r.amount, transactionType: r.transactionType, terminalNumber: fromHex(r.terminalNumber), terminalSerial: r.terminalSerial,
    dateTime: fromHex(r.dateTime), tac: fromHex(r.tac!),
  });
  t.equal(tacOk, true, 'TAC verifies under the delivered MTK');
  t.equal(sam.verifyTac({
    keyVersion: r.keyVersion, algorithmId: r.algorithm, serial: fromHex(r.cardSerial).slice(-8), factor: fromHex(r.issuerId),
    amount: r.amount + 1, transactionType: r.transactionType, terminalNumber: fromHex(r.terminalNumber), terminalSerial: r.terminalSerial,
    dateTime: fromHex(r.dateTime), tac: fromHex(r.tac!),
  }), false, 'a wrong amount fails the TAC');
});

t.test('soft SAM: wrong key refused by the card, unknown key version, APDU-level errors', async (t) => {
  const ks = await openKeystore(join(root, 'ks4'), kbpk);
  const wrong = fromHex('00112233445566778899AABBCCDDEEFF');
  await ks.load(1, [{ block: block(kbpk, '61', wrong) }]);
  const sam = new SoftSam({ keystore: ks, terminalNumber: '639900000001' });
  const channel = createMemoryChannel(card());
  const e1 = await purchase({ card: channel, psam: sam, journal: createMemoryJournal(), amount: 10 }).then(() => undefined, (e: unknown) => e as { code?: string; details?: { sw?: number } });
  t.equal(e1?.details?.sw, 0x9302, 'the card refuses MAC1 from a wrong key (9302)');
  const fresh = new SoftSam({ keystore: ks, terminalNumber: '639900000001' });
  t.equal((await fresh.transmit({ cla: 0x80, ins: 0x72, p1: 0, p2: 0, data: new Uint8Array(4) })).sw, 0x6901, 'MAC2 without MAC1');
  t.equal((await sam.transmit({ cla: 0x00, ins: 0xa4, p1: 4, p2: 0, data: fromHex('A000000632010105') })).sw, 0x6a82);
  t.equal((await sam.transmit({ cla: 0x80, ins: 0x70, p1: 0, p2: 0, data: new Uint8Array(36) })).sw, 0x6901, 'not selected');
  const ks2 = await openKeystore(join(root, 'ks5'), kbpk);
  await ks2.load(1, [{ block: block(kbpk, '61', MPK, { version: '02' }) }]);
  const sam2 = new SoftSam({ keystore: ks2, terminalNumber: '639900000001' });
  const e2 = await purchase({ card: createMemoryChannel(card()), psam: sam2, journal: createMemoryJournal(), amount: 10 }).then(() => undefined, (e: unknown) => e as { code?: string; details?: { sw?: number } });
  t.equal(e2?.details?.sw, 0x6a88, 'card key version 01 has no key in the soft SAM (6A88)');
  t.equal(toHex((await sam2.transmit({ cla: 0x00, ins: 0xb0, p1: 0x96, p2: 0, le: 6 })).data), '639900000001');
  t.equal((await sam2.transmit({ cla: 0x80, ins: 0xca, p1: 0, p2: 0 })).sw, 0x6d00);
  t.equal((await sam2.transmit({ cla: 0x00, ins: 0xca, p1: 0, p2: 0 })).sw, 0x6e00);
  t.throws(() => new SoftSam({ keystore: ks2, terminalNumber: '12' }), { code: 'TERM_ERR_INVALID_ARGUMENT' });
});
