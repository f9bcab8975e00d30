/**
 * Attaches e-card QR scanners to the verifier: each scanner's bytes go through its decoder
 * (keyboard wedge or serial lines), each decoded line through the verifier, and each result is
 * emitted as `'scan'` ({@link EcardScanResult}) for the local API and its WebSocket clients.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import { TerminalError } from '../errors.ts';
import { createSerialLineDecoder, createWedgeDecoder, type EcardVerifier, type ScannerDecoder } from '../ecard/index.ts';
import type { EcardScanResult } from '../api/index.ts';
import type { HidOpener } from '../link/index.ts';
import type { ScannerConfig } from './config.ts';

/** A byte source: node-hid device or serial port (both emit `data` Buffers). */
export interface ScannerDevice {
  on(event: 'data', listener: (data: Buffer) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  close(): unknown;
}

export type SerialScannerOpener = (path: string, baudRate: number) => Promise<ScannerDevice>;

/** Opens a serial scanner through `serialport` (8N1). Rejects `TERM_ERR_LINK_OPEN`. */
export const serialportScannerOpener: SerialScannerOpener = async (path, baudRate) => {
  const { SerialPort } = createRequire(import.meta.url)('serialport') as typeof import('serialport');
  return new Promise<ScannerDevice>((resolve, reject) => {
    const port = new SerialPort({ path, baudRate, autoOpen: false });
    port.open((err) => (err ? reject(new TerminalError('TERM_ERR_LINK_OPEN', `scanner ${path}`, { path }, { cause: err })) : resolve(port)));
  });
};

/** Feeds one device through a decoder into the verifier; results go to `scans`. */
export function attachScanner(device: ScannerDevice, decoder: ScannerDecoder, verifier: EcardVerifier, scans: EventEmitter, logger?: Logger, name = 'scanner'): void {
  const emit = (r: EcardScanResult): void => void scans.emit('scan', r);
  const fail = (e: unknown): void => {
    const err = e instanceof TerminalError ? e : new TerminalError('TERM_ERR_API_INTERNAL');
    logger?.info({ scanner: name, code: err.code }, 'e-card code refused');
    emit({ ok: false, error: { code: err.code, message: err.message } });
  };
  device.on('data', (data) => {
    for (const item of decoder.push(new Uint8Array(data))) {
      if ('error' in item) fail(item.error);
      else verifier.verify(item.text).then((identity) => {
        logger?.info({ scanner: name, keyId: identity.keyId, online: identity.online }, 'e-card code accepted');
        emit({ ok: true, identity });
      }, fail);
    }
  });
  device.on('error', (e) => logger?.warn({ scanner: name, err: e.message }, 'scanner error'));
}

/** Opens every configured scanner. Returns a closer. */
export async function openScanners(
  configs: readonly ScannerConfig[],
  deps: { readonly verifier: EcardVerifier; readonly scans: EventEmitter; readonly hidOpener: HidOpener; readonly serialOpener: SerialScannerOpener; readonly logger?: Logger },
): Promise<() => Promise<void>> {
  const devices: ScannerDevice[] = [];
  for (const s of configs) {
    const device: ScannerDevice = s.link === 'hid' ? await deps.hidOpener(s.path) : await deps.serialOpener(s.path, s.baudRate ?? 9600);
    const decoder = s.link === 'hid' ? createWedgeDecoder(s.reportId === undefined ? {} : { reportId: s.reportId }) : createSerialLineDecoder();
    attachScanner(device, decoder, deps.verifier, deps.scans, deps.logger, `${s.link}:${s.path}`);
    devices.push(device);
  }
  return async () => {
    for (const d of devices) await d.close();
  };
}
