import t from 'tap';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTerminalConfig, loadTerminalConfig, ecardVerifierFromConfig } from '../../src/runtime/index.ts';
import { runCli } from '../../src/cli/run.ts';
import type { CliIo } from '../../src/cli/io.ts';

const example = JSON.parse(readFileSync(new URL('../../config.example.json', import.meta.url), 'utf8')) as Record<string, unknown>;

t.test('the sample config is valid and gets defaults', async (t) => {
  const c = parseTerminalConfig(example);
  t.equal(c.terminalId, 'kiosk-0001');
  t.same(c.card, { reader: 'main', slot: 0 });
  t.same(c.psam, { reader: 'main', slot: 1 });
  t.equal(c.api.host, '127.0.0.1');
  t.equal(c.ecard?.scanners.length, 2);
  t.ok(ecardVerifierFromConfig(c, () => 0));
  const min = parseTerminalConfig({ terminalId: 't1', readers: [{ id: 'r', link: 'hid', path: '/dev/hidraw0', psamSlot: 1 }] });
  t.same(min.card, { reader: 'r', slot: 0 });
  t.same(min.psam, { reader: 'r', slot: 1 }, 'PSAM position from the reader psamSlot');
  t.equal(min.api.port, 8930);
  t.equal(min.log.level, 'info');
  t.equal(ecardVerifierFromConfig(min, () => 0), undefined);
});

t.test('invalid configs name the field', async (t) => {
  const bad = (patch: Record<string, unknown>, field: string): void => {
    t.throws(() => parseTerminalConfig({ ...example, ...patch }), { code: 'TERM_ERR_CONFIG', details: { field } }, field);
  };
  bad({ terminalId: 'a b' }, 'terminalId');
  bad({ readers: [] }, 'readers');
  bad({ readers: [{ id: 'main', link: 'usb', path: '/x' }] }, 'readers[0].link');
  bad({ readers: [{ id: 'main', link: 'serial' }] }, 'readers[0].path');
  bad({ readers: [{ id: 'main', link: 'serial', path: '/x', model: 'acr38' }] }, 'readers[0].model');
  bad({ readers: [{ id: 'main', link: 'serial', path: '/x' }, { id: 'main', link: 'serial', path: '/y' }] }, 'readers[1].id');
  bad({ card: { reader: 'other' } }, 'card.reader');
  bad({ api: { port: 70000 } }, 'api.port');
  bad({ api: { token: 'short' } }, 'api.token');
  bad({ api: { allowedOrigins: ['localhost'] } }, 'api.allowedOrigins[0]');
  bad({ ecard: { keys: [{ publicKey: '04AB' }] } }, 'ecard.keys[0].publicKey');
  bad({ ecard: { keys: [] } }, 'ecard.keys');
  bad({ ecard: { keys: (example['ecard'] as { keys: unknown }).keys, scanners: [{ link: 'usb', path: '/x' }] } }, 'ecard.scanners[0].link');
  bad({ log: { level: 'loud' } }, 'log.level');
  bad({ extra: 1 }, 'extra');
  t.throws(() => parseTerminalConfig([]), { code: 'TERM_ERR_CONFIG' });
});

t.test('loadTerminalConfig and run --check', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify(example));
  const notJson = join(dir, 'bad.json');
  writeFileSync(notJson, '{');
  await t.rejects(loadTerminalConfig(join(dir, 'missing.json')), { code: 'TERM_ERR_CONFIG' });
  await t.rejects(loadTerminalConfig(notJson), { code: 'TERM_ERR_CONFIG' });
  let out = '';
  let err = '';
  const io: CliIo = { readStdin: async () => '', stdout: (s) => void (out += s), stderr: (s) => void (err += s) };
  t.equal(await runCli(['run', '--config', good, '--check'], io), 0, err);
  t.match(out, /valid/);
  t.equal(await runCli(['run', '--config', notJson, '--check'], io), 8);
  t.match(err, /TERM_ERR_CONFIG/);
  t.equal(await runCli(['run'], io), 2);
});
