/**
 * The card-issuing device on a serial line (`serialport`, exclusive, 115200 8N1 by default;
 * [ONECARD] the device link of `@onecard/protocol/issuance` does not depend on the line speed).
 * Returns the {@link DeviceLinkPort} the device client speaks over, and a close function.
 */
import { SerialPort } from 'serialport';
import { TerminalError } from '../errors.ts';
import type { DeviceLinkPort } from './device-client.ts';

export interface SerialDeviceLink {
  readonly port: DeviceLinkPort;
  close(): Promise<void>;
}

/**
 * Opens the device's serial line.
 * @throws TerminalError `TERM_ERR_ISSUANCE_DEVICE_LINK` when the line cannot be opened.
 */
export async function openSerialDeviceLink(path: string, opts: { readonly baudRate?: number } = {}): Promise<SerialDeviceLink> {
  const sp = new SerialPort({ path, baudRate: opts.baudRate ?? 115200, dataBits: 8, stopBits: 1, parity: 'none', autoOpen: false, lock: true });
  try {
    await new Promise<void>((res, rej) => sp.open((e) => (e ? rej(e) : res())));
  } catch (e) {
    throw new TerminalError('TERM_ERR_ISSUANCE_DEVICE_LINK', 'cannot open the line', { path }, { cause: e });
  }
  sp.on('error', () => {
    /* a lost line shows as missing replies (TERM_ERR_ISSUANCE_DEVICE_LINK) */
  });
  return {
    port: {
      write: (data) => sp.write(Buffer.from(data)),
      onData: (l) => sp.on('data', (b: Buffer) => l(new Uint8Array(b))),
    },
    close: () => new Promise<void>((res) => (sp.isOpen ? sp.close(() => res()) : res())),
  };
}
