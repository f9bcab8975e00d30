import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import {
  CONFIG_APPLY_CLASSES, CONFIG_FIELD_APPLY, ConfigStatus, EXAMPLE_TERMINAL_CONFIG, TerminalConfig, canonicalJson, changedConfigFields, configSchemaFields,
  validateFleetMessage, validateTerminalConfig,
} from '@onecard/protocol/fleet';
import { TERMINAL_READER_MODEL_KEYS } from '@onecard/protocol/ccid';
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
    [{ ...EXAMPLE_TERMINAL_CONFIG, api: { ...EXAMPLE_TERMINAL_CONFIG.api, allowedOrigins: ['ftp://x'] } }, /^\/api\/allowedOrigins\/0/],
    [{ ...EXAMPLE_TERMINAL_CONFIG, readers: [{ ...EXAMPLE_TERMINAL_CONFIG.readers[0]!, model: 'acme-9000' }] }, /^\/readers\/0\/model/],
    [{ ...EXAMPLE_TERMINAL_CONFIG, readers: [{ ...EXAMPLE_TERMINAL_CONFIG.readers[0]!, role: 'psam', psamSlot: null }] }, /^\/readers\/0\/psamSlot/],
    [{ ...EXAMPLE_TERMINAL_CONFIG, readers: [{ ...EXAMPLE_TERMINAL_CONFIG.readers[0]!, role: 'user' }] }, /^\/readers\/0\/psamSlot/],
    [{ ...EXAMPLE_TERMINAL_CONFIG, readers: [{ ...EXAMPLE_TERMINAL_CONFIG.readers[0]!, role: 'psam' }] }, /^\/readers$/],
    [{ ...EXAMPLE_TERMINAL_CONFIG, readers: [EXAMPLE_TERMINAL_CONFIG.readers[0]!, { ...EXAMPLE_TERMINAL_CONFIG.readers[0]!, id: 'b', path: '/dev/ttyUSB1' }] }, /^\/readers\/1\/role/],
    [{ ...EXAMPLE_TERMINAL_CONFIG, hotlist: { ...EXAMPLE_TERMINAL_CONFIG.hotlist, maxStaleSeconds: 5 } }, /^\/hotlist\/maxStaleSeconds/],
    [{ ...EXAMPLE_TERMINAL_CONFIG, kiosk: { enabled: true } }, /^\//],
    [{ ...EXAMPLE_TERMINAL_CONFIG, services: { ...EXAMPLE_TERMINAL_CONFIG.services, venue: true } }, /^\/services/],
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

t.test('every schema field has exactly one apply class, and the table names only schema fields', async (t) => {
  const fields = configSchemaFields(TerminalConfig);
  t.ok(fields.length >= 10, `${fields.length} fields`);
  const table = CONFIG_FIELD_APPLY as Record<string, { class: string; effect: string }>;
  for (const f of fields) {
    t.ok(table[f] !== undefined, `${f} is classified`);
    t.ok(CONFIG_APPLY_CLASSES.includes(table[f]?.class as never), `${f}: class ${table[f]?.class}`);
    t.ok((table[f]?.effect.length ?? 0) > 10, `${f}: effect described`);
  }
  t.same(Object.keys(table).sort(), [...fields].sort(), 'no table entry for a field the schema lacks');
  // The walk is the schema's: a field added to a section shows up (and then needs a class).
  t.ok(fields.includes('/hotlist/maxStaleSeconds') && fields.includes('/readers') && !fields.includes('/readers/0/model'));
});

t.test('changed fields: per field, with its class; every field on a first document', async (t) => {
  t.equal(changedConfigFields(undefined, EXAMPLE_TERMINAL_CONFIG).length, Object.keys(CONFIG_FIELD_APPLY).length);
  t.same(changedConfigFields(EXAMPLE_TERMINAL_CONFIG, EXAMPLE_TERMINAL_CONFIG), []);
  const next = { ...EXAMPLE_TERMINAL_CONFIG, logLevel: 'debug' as const, upload: { ...EXAMPLE_TERMINAL_CONFIG.upload, maxOutboxRecords: 5000 }, readers: [{ ...EXAMPLE_TERMINAL_CONFIG.readers[0]!, path: '/dev/ttyUSB9' }] };
  t.same(changedConfigFields(EXAMPLE_TERMINAL_CONFIG, next), [
    { field: '/readers', class: 'session-end' },
    { field: '/upload/maxOutboxRecords', class: 'restart' },
    { field: '/logLevel', class: 'live' },
  ]);
});

t.test('reader models: the schema enumerates the one table of protocol/ccid', async (t) => {
  for (const model of TERMINAL_READER_MODEL_KEYS) {
    t.doesNotThrow(() => validateTerminalConfig({ ...EXAMPLE_TERMINAL_CONFIG, readers: [{ ...EXAMPLE_TERMINAL_CONFIG.readers[0]!, model }] }), model);
  }
  t.throws(() => validateTerminalConfig({ ...EXAMPLE_TERMINAL_CONFIG, readers: [{ ...EXAMPLE_TERMINAL_CONFIG.readers[0]!, model: 'GemPCTwin' }] }), { code: 'PROTO_ERR_FLEET_SCHEMA', details: { path: '/readers/0/model' } });
});

t.test('config status: changes are optional within v 1; bad entries are refused with the path', async (t) => {
  t.doesNotThrow(() => validateFleetMessage('config/status', { v: 1, version: 3, status: 'applied' }), 'a report without changes still decodes');
  t.doesNotThrow(() => validateFleetMessage('config/status', { v: 1, version: 3, status: 'applied', changes: [{ field: '/logLevel', effect: 'live', at: 5 }, { field: '/upload/maxOutboxRecords', effect: 'restart' }] }));
  t.ok(ConfigStatus.properties.changes !== undefined);
  t.throws(() => validateFleetMessage('config/status', { v: 1, version: 3, status: 'applied', changes: [{ field: '/logLevel', effect: 'later' }] }), { code: 'PROTO_ERR_FLEET_SCHEMA', details: { path: /^\/changes\/0\/effect/ } });
  t.throws(() => validateFleetMessage('config/status', { v: 1, version: 3, status: 'applied', changes: [{ field: 'logLevel', effect: 'live' }] }), { code: 'PROTO_ERR_FLEET_SCHEMA', details: { path: /^\/changes\/0\/field/ } });
});
