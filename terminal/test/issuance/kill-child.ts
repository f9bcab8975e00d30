// A terminal process running one issuance job, killed by kill.test.ts at some point and started
// again to resume. argv: devicePath regionUrl secretHex journalDir jobId start|resume
import { fromHex } from '@onecard/protocol/bytes';
import { openSerialDeviceLink } from '../../src/issuance/serial-device.ts';
import { createDeviceClient, deviceApduPort } from '../../src/issuance/device-client.ts';
import { fileJobStore } from '../../src/issuance/journal.ts';
import { IssuanceService } from '../../src/issuance/service.ts';
import { httpRegionalServices } from '../../src/issuance/http-region.ts';
import { createLogger } from '../../src/log/index.ts';

const [devicePath, url, secret, dir, jobId, mode] = process.argv.slice(2) as [string, string, string, string, string, string];
const link = await openSerialDeviceLink(devicePath);
const device = createDeviceClient(link.port);
const svc = new IssuanceService({
  device,
  card: deviceApduPort(device, 'ic'),
  psam: deviceApduPort(device, 'sam'),
  region: httpRegionalServices({ url, region: '639900', secret: fromHex(secret) }),
  store: fileJobStore(dir),
  logger: createLogger({ level: 'silent' }),
  clock: () => new Date(Date.UTC(2026, 11, 7, 12)),
  authMode: 'psam',
});
const view = mode === 'start' ? await svc.start({ jobId, region: '639900', ssn: '11010519491231002X', name: '张三', kind: 'new' }) : await svc.resume(jobId);
process.stdout.write(`${JSON.stringify(view)}\n`);
await link.close();
