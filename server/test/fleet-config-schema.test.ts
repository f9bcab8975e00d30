import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { EXAMPLE_TERMINAL_CONFIG, canonicalJson, validateTerminalConfig } from '@onecard/protocol/fleet';
import { canonicalConfig } from '../src/routes/config.ts';

t.test('the example configuration is valid and round-trips through canonical JSON', async (t) => {
  t.same(validateTerminalConfig(EXAMPLE_TERMINAL_CONFIG), EXAMPLE_TERMINAL_CONFIG);
  t.same(JSON.parse(canonicalJson(EXAMPLE_TERMINAL_CONFIG)), EXAMPLE_TERMINAL_CONFIG);
});

t.test('canonical JSON: sorted keys at every level, no whitespace, key order irrelevant', async (t) => {
  t.equal(canonicalJson({ b: 1, a: [{ d: true, c: null }, 'x'], c: { z: 'é', y: -0.5 } }), '{"a":[{"c":null,"d":true},"x"],"b":1,"c":{"y":-0.5,"z":"é"}}');
  t.equal(canonicalJson({ a: 1, u: undefined }), '{"a":1}');
  const shuffled = Object.fromEntries(Object.entries(EXAMPLE_TERMINAL_CONFIG).reverse());
  t.equal(canonicalJson(shuffled), canonicalJson(EXAMPLE_TERMINAL_CONFIG));
  t.equal(canonicalConfig(shuffled).sha256, createHash('sha256').update(canonicalJson(EXAMPLE_TERMINAL_CONFIG), 'utf8').digest('hex'));
  t.throws(() => canonicalJson({ n: Number.NaN }), { code: 'PROTO_ERR_FLEET_JSON' });
  t.throws(() => canonicalJson({ f: () => 1 }), { code: 'PROTO_ERR_FLEET_JSON' });
});

t.test('invalid documents fail with the path of the offending field', async (t) => {
  const bad: [unknown, RegExp][] = [
    [{ ...EXAMPLE_TERMINAL_CONFIG, v: 2 }, /^\/v/],
    [{ ...EXAMPLE_TERMINAL_CONFIG, extra: 1 }, /^\//],
    [{ ...EXAMPLE_TERMINAL_CONFIG, readers: [{ ...EXAMPLE_TERMINAL_CONFIG.readers[0]!, link: 'usb' }] }, /^\/readers\/0/],
    [{ ...EXAMPLE_TERMINAL_CONFIG, readers: [{ ...EXAMPLE_TERMINAL_CONFIG.readers[0]!, path: '/etc/passwd' }] }, /^\/readers\/0\/path/],
    [{ ...EXAMPLE_TERMINAL_CONFIG, readers: [{ ...EXAMPLE_TERMINAL_CONFIG.readers[0]!, psamSlot: 9 }] }, /^\/readers\/0\/psamSlot/],
    [{ ...EXAMPLE_TERMINAL_CONFIG, api: { ...EXAMPLE_TERMINAL_CONFIG.api, host: '0.0.0.0' } }, /^\/api\/host/],
    [{ ...EXAMPLE_TERMINAL_CONFIG, upload: { ...EXAMPLE_TERMINAL_CONFIG.upload, batchSize: 5000 } }, /^\/upload\/batchSize/],
    [{ ...EXAMPLE_TERMINAL_CONFIG, readers: [EXAMPLE_TERMINAL_CONFIG.readers[0]!, EXAMPLE_TERMINAL_CONFIG.readers[0]!] }, /^\/readers\/1\/id/],
  ];
  for (const [doc, path] of bad) {
    t.throws(() => validateTerminalConfig(doc), { code: 'PROTO_ERR_FLEET_SCHEMA', details: { path } });
    t.throws(() => canonicalConfig(doc), { code: 'SRV_ERR_CONFIG_SCHEMA', details: { path } });
  }
});

t.test('20k random values: only coded errors, never a crash', async (t) => {
  let ok = 0;
  for (let i = 0; i < 20_000; i++) {
    const bytes = randomBytes(1 + (i % 64));
    let value: unknown;
    try { value = JSON.parse(bytes.toString('latin1')); } catch { value = { ...EXAMPLE_TERMINAL_CONFIG, name: bytes.toString('base64'), readers: i % 3 === 0 ? bytes.toJSON().data : EXAMPLE_TERMINAL_CONFIG.readers }; }
    try {
      validateTerminalConfig(value);
      ok++;
    } catch (err) {
      if ((err as { code?: string }).code !== 'PROTO_ERR_FLEET_SCHEMA') throw err;
    }
  }
  t.ok(ok > 0 && ok < 20_000, `${ok} valid, the rest coded refusals`);
});
