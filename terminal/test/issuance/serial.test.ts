import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { toHex } from '@onecard/protocol/bytes';
import { openSerialIssuingDevice, IssuingDeviceCore } from '@onecard/simulators/src/issuance/device.ts';
import { createIssuancePsam } from '@onecard/simulators/src/issuance/psam.ts';
import { FakeRegion } from '@onecard/simulators/src/issuance/region.ts';
import { openSerialDeviceLink } from '../../src/issuance/serial-device.ts';
import { createDeviceClient, deviceApduPort } from '../../src/issuance/device-client.ts';
import { fileJobStore } from '../../src/issuance/journal.ts';
import { IssuanceService } from '../../src/issuance/service.ts';
import { createLogger, createMemoryDestination } from '../../src/log/index.ts';
import { blank, clock, holder, roots } from './fixtures.ts';

t.test('[issuance §9] a 3.00 card issued over the device\'s serial line (pseudo-terminal)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onecard-isser-'));
  const core = new IssuingDeviceCore({ stock: [blank('3.00', 1), blank('3.00', 2)], sam: createIssuancePsam({ roots, region: '639900' }) });
  const dev = openSerialIssuingDevice(core, { path: path.join(dir, 'issuer0') });
  const link = await openSerialDeviceLink(dev.path);
  t.teardown(async () => {
    await link.close();
    await dev.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const device = createDeviceClient(link.port, { timeoutMs: 5000 });
  const region = new FakeRegion({ region: '639900', holders: [holder], ukssseRoot: roots.ukssse, clock });
  const svc = new IssuanceService({ device, card: deviceApduPort(device, 'ic'), psam: deviceApduPort(device, 'sam'), region, store: fileJobStore(path.join(dir, 'jobs')), logger: createLogger({ destination: createMemoryDestination() }), clock, authMode: 'psam' });
  const v = await svc.start({ jobId: 'S1', region: '639900', ssn: holder.ssn, name: holder.name, kind: 'new' });
  t.match(v, { status: 'issued' });
  const card = core.takeCard()!;
  t.match(region.job('S1'), { enabled: true, returned: { cardId: toHex(card.cardId) } });
  await t.rejects(openSerialDeviceLink(path.join(dir, 'missing')), { code: 'TERM_ERR_ISSUANCE_DEVICE_LINK' });
});

t.test('the device client times out when the device is silent', async (t) => {
  const device = createDeviceClient({ write: () => undefined, onData: () => undefined }, { timeoutMs: 50 });
  await t.rejects(device.command({ kind: 'status' }), { code: 'TERM_ERR_ISSUANCE_DEVICE_LINK' });
  const garbage = createDeviceClient({ write: () => undefined, onData: (l) => setTimeout(() => l(Uint8Array.of(0x55)), 5) }, { timeoutMs: 1000 });
  await t.rejects(garbage.command({ kind: 'status' }), { code: 'TERM_ERR_ISSUANCE_DEVICE_LINK' });
});
