// Configuration secrets sealed for one terminal (docs/sip2.md "The SIP2 password"): the format
// recomputed here from its definition (HKDF-SHA256 of the KBPK, AES-256-GCM, associated data naming
// terminal, secret and document value), round trips, and every way a copy must fail to open: another
// terminal, another KBPK, another document value, another secret name, an altered byte, bad text.
import t from 'tap';
import { createCipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import {
  configSecretAad, isSealedRef, openConfigSecret, sealConfigSecret, validateTerminalConfig, CONFIG_SECRET_INFO, EXAMPLE_TERMINAL_CONFIG, SEALED_TEXT_PATTERN,
} from '../../src/fleet/index.ts';

const KBPK = new Uint8Array(32).map((_, i) => i + 1);
const IV = new Uint8Array(12).map((_, i) => 0xa0 + i);
const REF = 'v1.c2VydmVyLXNlYWxlZC1wYXNzd29yZC10ZXh0LWZvci10ZXN0aW5nLW9ubHk';

t.test('sealed copy: the format recomputed from its definition', async (t) => {
  const key = Buffer.from(hkdfSync('sha256', KBPK, new Uint8Array(0), 'OneCard config secret v1 AES-256-GCM', 32));
  const aad = `OneCard config secret v1 AES-256-GCM\nterminal=T1\nname=library.password\nref=${createHash('sha256').update(REF).digest('hex')}`;
  const c = createCipheriv('aes-256-gcm', key, IV);
  c.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([c.update('图书馆-pass|x', 'utf8'), c.final()]);
  const expected = `v1.${Buffer.concat([IV, c.getAuthTag(), ct]).toString('base64url')}`;
  t.equal(CONFIG_SECRET_INFO, 'OneCard config secret v1 AES-256-GCM');
  t.equal(Buffer.from(configSecretAad('T1', 'library.password', REF)).toString('utf8'), aad);
  t.equal(sealConfigSecret(KBPK, 'T1', 'library.password', REF, '图书馆-pass|x', IV), expected);
  t.equal(openConfigSecret(KBPK, 'T1', 'library.password', REF, expected), '图书馆-pass|x');
  t.match(expected, new RegExp(SEALED_TEXT_PATTERN));
});

t.test('sealed copy: opens only for its terminal, KBPK and document value; altered or malformed fails coded', async (t) => {
  const sealed = sealConfigSecret(KBPK, 'T1', 'library.password', REF, 'secret-1');
  t.not(sealed, sealConfigSecret(KBPK, 'T1', 'library.password', REF, 'secret-1'), 'a fresh IV each time');
  t.equal(openConfigSecret(KBPK, 'T1', 'library.password', REF, sealed), 'secret-1');
  const fails = (what: string, fn: () => unknown) => t.throws(fn, { code: 'PROTO_ERR_FLEET_SECRET' }, what);
  fails('another terminal', () => openConfigSecret(KBPK, 'T2', 'library.password', REF, sealed));
  fails('another KBPK', () => openConfigSecret(new Uint8Array(randomBytes(32)), 'T1', 'library.password', REF, sealed));
  fails('another document value', () => openConfigSecret(KBPK, 'T1', 'library.password', `${REF}x`, sealed));
  fails('another secret name', () => openConfigSecret(KBPK, 'T1', 'other.password' as 'library.password', REF, sealed));
  const raw = Buffer.from(sealed.slice(3), 'base64url');
  for (const i of [0, 13, 30, raw.length - 1]) {
    const bad = Buffer.from(raw);
    bad[i] = bad[i]! ^ 0x01;
    fails(`byte ${i} altered`, () => openConfigSecret(KBPK, 'T1', 'library.password', REF, `v1.${bad.toString('base64url')}`));
  }
  fails('truncated', () => openConfigSecret(KBPK, 'T1', 'library.password', REF, sealed.slice(0, 30)));
  fails('not sealed text', () => openConfigSecret(KBPK, 'T1', 'library.password', REF, 'secret-1'));
  fails('version 2', () => openConfigSecret(KBPK, 'T1', 'library.password', REF, `v2${sealed.slice(2)}`));
  t.throws(() => sealConfigSecret(new Uint8Array(16), 'T1', 'library.password', REF, 'x'), { code: 'PROTO_ERR_FLEET_SECRET' }, 'a KBPK is 32 bytes');
  t.throws(() => sealConfigSecret(KBPK, '', 'library.password', REF, 'x'), { code: 'PROTO_ERR_FLEET_SECRET' }, 'a terminal id is required');
  // Bounded random input never opens and never throws anything but the coded error.
  for (let i = 0; i < 200; i++) {
    const junk = `v1.${randomBytes(28 + (i % 40)).toString('base64url')}`;
    t.throws(() => openConfigSecret(KBPK, 'T1', 'library.password', REF, junk), { code: 'PROTO_ERR_FLEET_SECRET' });
  }
});

t.test('the document carries the password sealed (or, saved before sealing, as text), nothing else', async (t) => {
  const library = { host: '127.0.0.1', port: 6001, institutionId: 'LIB', user: 'sc', location: 'hall', charset: 'utf-8' as const, errorDetection: true, timeoutMs: 2000, maxRetries: 1, gate: true, loanDesk: false };
  const doc = (password: unknown) => ({ ...EXAMPLE_TERMINAL_CONFIG, library: { ...library, password } });
  t.doesNotThrow(() => validateTerminalConfig(doc({ sealed: REF })));
  t.doesNotThrow(() => validateTerminalConfig(doc('legacy-text')), 'a document saved before sealing');
  t.doesNotThrow(() => validateTerminalConfig(doc('')), 'no password');
  for (const bad of [{ sealed: 'clear-text' }, { sealed: REF, extra: 1 }, { set: true }, {}, 42]) {
    t.throws(() => validateTerminalConfig(doc(bad)), { code: 'PROTO_ERR_FLEET_SCHEMA' }, JSON.stringify(bad));
  }
  t.ok(isSealedRef({ sealed: REF }));
  t.notOk(isSealedRef({ sealed: REF, x: 1 }));
  t.notOk(isSealedRef('text'));
});
