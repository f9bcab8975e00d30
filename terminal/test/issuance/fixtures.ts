// Simulated issuing site for the issuance tests: blank cards, the PSAM in the device's SAM slot,
// the card-issuing device linked in memory, the fake region and a file journal in a temp dir.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fromHex } from '@onecard/protocol/bytes';
import { BlankCard, type BlankCardRoots } from '@onecard/simulators/src/issuance/blank-card.ts';
import { createIssuancePsam } from '@onecard/simulators/src/issuance/psam.ts';
import { IssuingDeviceCore } from '@onecard/simulators/src/issuance/device.ts';
import { FakeRegion, type FakeHolder } from '@onecard/simulators/src/issuance/region.ts';
import { createLogger, createMemoryDestination, type MemoryDestination } from '../../src/log/index.ts';
import { createDeviceClient, deviceApduPort, type DeviceLinkPort } from '../../src/issuance/device-client.ts';
import { fileJobStore, type JobStore } from '../../src/issuance/journal.ts';
import { IssuanceService, type AuthMode, type IssuanceServiceOptions } from '../../src/issuance/service.ts';

export const roots: BlankCardRoots = {
  irk: fromHex('544553542D49524B2D49535355452D31'),
  stk: fromHex('544553542D53544B2D49535355452D31'),
  ukssse: fromHex('544553542D554B2D2D49535355452D31'),
  bk: fromHex('544553542D424B2D2D49535355452D31'),
  puk: fromHex('544553542D50554B2D49535355452D31'),
  rkssse: fromHex('544553542D524B2D2D49535355452D31'),
};
export const holder: FakeHolder = { ssn: '11010519491231002X', name: '张三', sex: '1', ethnicGroup: '01', birthplace: '110105', birthDate: '19491231' };
export const clock = (): Date => new Date(Date.UTC(2026, 11, 7, 12));

export function blank(version: '2.00' | '3.00', n: number): BlankCard {
  return new BlankCard({ version, protocol: 0, seed: n, region: '639900', cardSerial: Uint8Array.of(0, 0xbf, 0, n), cardAuthCode: fromHex('01020304'), cardType: '3', initOrg: '639900000001', roots });
}

/** An in-memory line to the device core, answering asynchronously like a serial line. */
export function memoryLink(core: IssuingDeviceCore<BlankCard>): DeviceLinkPort {
  let listener: (d: Uint8Array) => void = () => undefined;
  return {
    write(bytes) {
      const copy = bytes.slice();
      setImmediate(() => {
        for (const w of core.receive(copy)) listener(w);
      });
    },
    onData(l) {
      listener = l;
    },
  };
}

export interface Site {
  readonly core: IssuingDeviceCore<BlankCard>;
  readonly region: FakeRegion;
  readonly dir: string;
  readonly store: JobStore;
  readonly logs: MemoryDestination;
  /** A fresh service process over the same device, region and journal (after a kill). */
  service(extra?: Partial<IssuanceServiceOptions>): IssuanceService;
  cleanup(): void;
}

export function site(version: '2.00' | '3.00', opts: { readonly stock?: number; readonly authMode?: AuthMode } = {}): Site {
  const cards = Array.from({ length: opts.stock ?? 3 }, (_, i) => blank(version, i + 1));
  const core = new IssuingDeviceCore({ stock: cards, sam: createIssuancePsam({ roots, region: '639900' }) });
  const region = new FakeRegion({ region: '639900', holders: [holder], ukssseRoot: roots.ukssse, clock });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onecard-iss-'));
  const store = fileJobStore(dir);
  const logs = createMemoryDestination();
  return {
    core,
    region,
    dir,
    store,
    logs,
    service(extra = {}) {
      const device = createDeviceClient(memoryLink(core), { timeoutMs: 5000 });
      return new IssuanceService({
        device,
        card: deviceApduPort(device, 'ic'),
        psam: deviceApduPort(device, 'sam'),
        region,
        store,
        logger: createLogger({ destination: logs }),
        clock,
        authMode: opts.authMode ?? 'psam',
        ...extra,
      });
    },
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
