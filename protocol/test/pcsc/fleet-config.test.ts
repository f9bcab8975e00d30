import t from 'tap';
import { EXAMPLE_TERMINAL_CONFIG, validateTerminalConfig } from '../../src/fleet/config-schema.ts';

// The fleet configuration names PC/SC readers (docs/readers.md): link "pcsc", path = reader name or glob.
t.test('fleet configuration: pcsc readers by name; device paths stay /dev paths', async (t) => {
  const base = EXAMPLE_TERMINAL_CONFIG;
  const withReaders = (readers: unknown[]): unknown => ({ ...base, readers });
  const doc = validateTerminalConfig(withReaders([
    { id: 'front', link: 'pcsc', path: 'ACS ACR39U ICC Reader*', model: 'gempc-twin', psamSlot: null, role: 'user' },
    { id: 'sam', link: 'pcsc', path: 'Gemalto USB SmartCard Reader 00 00', model: 'gempc-twin', psamSlot: 0, role: 'psam' },
  ]));
  t.same(doc.readers.map((r) => r.path), ['ACS ACR39U ICC Reader*', 'Gemalto USB SmartCard Reader 00 00']);
  const refused = (readers: unknown[], path: string): void => {
    t.throws(() => validateTerminalConfig(withReaders(readers)), { code: 'PROTO_ERR_FLEET_SCHEMA', details: { path } }, JSON.stringify(readers));
  };
  refused([{ id: 'front', link: 'pcsc', path: '/dev/ttyUSB0', model: 'gempc-twin', psamSlot: null, role: 'user' }], '/readers/0/path');
  refused([{ id: 'front', link: 'serial', path: 'Gemalto GemPC Twin', model: 'gempc-twin', psamSlot: null, role: 'user' }], '/readers/0/path');
  refused([{ id: 'front', link: 'pcsc', path: 'bad\u0001name', model: 'gempc-twin', psamSlot: null, role: 'user' }], '/readers/0/path');
  refused([{ id: 'front', link: 'pcsc', path: 'x'.repeat(128), model: 'gempc-twin', psamSlot: null, role: 'user' }], '/readers/0/path');
});
