/**
 * Serial reader transport over `serialport`, opened the way the GemPC serial driver opens its
 * line (reader-link.md §8.1): 115200 baud, 8 data bits, 2 stop bits, no parity, no flow control,
 * exclusive, RTS driven low right after opening (so the reader does not send its plug-and-play
 * string), then both directions flushed. Loss of the device is detected from the port's close
 * and error events and from failed writes (`close` does not reliably fire when a USB-serial
 * adapter is pulled, §11.5), and reported once to the close listeners.
 */
import * as fs from 'node:fs';
import { SerialPort } from 'serialport';
import { GEMPC_LINE_SETTINGS } from '@onecard/protocol/ccid';
import { TerminalError } from '../errors.ts';
import { claimDevice, releaseDevice, TransportListeners, type ReaderTransport } from './transport.ts';

/** Options of {@link createSerialTransport}. */
export interface SerialTransportOptions {
  readonly path: string;
  /** Default 115200 [CCID serial §8.1]. */
  readonly baudRate?: number;
  /** Default 2 [CCID serial §8.1]. */
  readonly stopBits?: 1 | 2;
}

function realKey(path: string): string {
  try {
    return fs.realpathSync(path);
  } catch {
    return path;
  }
}

class SerialTransport implements ReaderTransport {
  readonly kind = 'serial' as const;
  readonly path: string;
  readonly #baud: number;
  readonly #stopBits: 1 | 2;
  readonly #listeners = new TransportListeners();
  #port: SerialPort | undefined;
  #key: string | undefined;

  constructor(opts: SerialTransportOptions) {
    this.path = opts.path;
    this.#baud = opts.baudRate ?? GEMPC_LINE_SETTINGS.baudRate;
    this.#stopBits = opts.stopBits ?? GEMPC_LINE_SETTINGS.stopBits;
  }

  get isOpen(): boolean {
    return this.#port !== undefined;
  }

  async open(): Promise<void> {
    if (this.#port !== undefined) throw new TerminalError('TERM_ERR_LINK_BUSY', this.path, { path: this.path });
    const key = realKey(this.path);
    claimDevice(key);
    // [CCID serial §8.1] 8N2, raw, exclusive; no hardware flow control.
    const port = new SerialPort({
      path: this.path, baudRate: this.#baud, dataBits: 8, stopBits: this.#stopBits, parity: 'none',
      rtscts: false, xon: false, xoff: false, hupcl: false, lock: true, autoOpen: false,
    });
    try {
      await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    } catch (e) {
      releaseDevice(key);
      const busy = /lock|busy|EBUSY|EAGAIN/i.test(String((e as Error).message));
      throw new TerminalError(busy ? 'TERM_ERR_LINK_BUSY' : 'TERM_ERR_LINK_OPEN', `${this.path}: ${(e as Error).message}`, { path: this.path }, { cause: e });
    }
    // [CCID serial §8.1] drop RTS so the reader does not send its plug-and-play string. A pseudo-
    // terminal has no modem lines and refuses the ioctl; that is not a failure of the link.
    await new Promise<void>((resolve) => port.set({ rts: false, dtr: true }, () => resolve()));
    // [CCID serial §8.1] flush both directions before the first command.
    await new Promise<void>((resolve) => port.flush(() => resolve()));
    this.#port = port;
    this.#key = key;
    port.on('data', (d: Buffer) => {
      if (this.#port === port) this.#listeners.data(new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice());
    });
    port.on('error', (e: Error) => this.#lost(port, new TerminalError('TERM_ERR_LINK_IO', `${this.path}: ${e.message}`, { path: this.path }, { cause: e })));
    port.on('close', (e: unknown) => this.#lost(port, new TerminalError('TERM_ERR_LINK_CLOSED', `${this.path}: device closed`, { path: this.path }, { cause: e })));
  }

  #release(port: SerialPort): boolean {
    if (this.#port !== port) return false;
    this.#port = undefined;
    if (this.#key !== undefined) releaseDevice(this.#key);
    this.#key = undefined;
    return true;
  }

  #lost(port: SerialPort, error: TerminalError): void {
    if (!this.#release(port)) return;
    if (port.isOpen) port.close(() => undefined);
    this.#listeners.closed(error);
  }

  async close(): Promise<void> {
    const port = this.#port;
    if (port === undefined) return;
    this.#release(port);
    port.removeAllListeners('data');
    await new Promise<void>((resolve) => {
      if (!port.isOpen) resolve();
      else port.close(() => resolve());
    });
    this.#listeners.closed(null);
  }

  async write(bytes: Uint8Array): Promise<void> {
    const port = this.#port;
    if (port === undefined) throw new TerminalError('TERM_ERR_LINK_CLOSED', this.path, { path: this.path });
    await new Promise<void>((resolve, reject) => {
      port.write(Buffer.from(bytes), (e) => {
        if (e) {
          if (this.#port !== port) {
            reject(new TerminalError('TERM_ERR_LINK_CLOSED', this.path, { path: this.path }, { cause: e }));
            return;
          }
          // [reader-link §11.5] a failed write is how an unplugged adapter shows: the link is lost.
          const err = new TerminalError('TERM_ERR_LINK_IO', `${this.path}: ${e.message}`, { path: this.path }, { cause: e });
          setImmediate(() => this.#lost(port, err));
          reject(err);
          return;
        }
        port.drain((d) => {
          if (this.#port !== port) reject(new TerminalError('TERM_ERR_LINK_CLOSED', this.path, { path: this.path }));
          else if (d) reject(new TerminalError('TERM_ERR_LINK_IO', `${this.path}: ${d.message}`, { path: this.path }, { cause: d }));
          else resolve();
        });
      });
    });
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    return this.#listeners.onData(listener);
  }

  onClose(listener: (error: TerminalError | null) => void): () => void {
    return this.#listeners.onClose(listener);
  }
}

/** Creates a (closed) serial transport for `path`. Never throws; `open()` reports failures. */
export function createSerialTransport(opts: SerialTransportOptions): ReaderTransport {
  return new SerialTransport(opts);
}

/** One serial port as the OS lists it. */
export interface SerialPortInfo {
  readonly path: string;
  readonly manufacturer?: string;
  readonly vendorId?: string;
  readonly productId?: string;
  readonly serialNumber?: string;
}

/**
 * Lists the serial ports of the machine (for `onecard-terminal readers`).
 * @throws TerminalError `TERM_ERR_LINK_IO` when the OS listing fails.
 */
export async function listSerialPorts(): Promise<SerialPortInfo[]> {
  try {
    const ports = await SerialPort.list();
    return ports.map((p) => ({
      path: p.path,
      ...(p.manufacturer === undefined ? {} : { manufacturer: p.manufacturer }),
      ...(p.vendorId === undefined ? {} : { vendorId: p.vendorId }),
      ...(p.productId === undefined ? {} : { productId: p.productId }),
      ...(p.serialNumber === undefined ? {} : { serialNumber: p.serialNumber }),
    }));
  } catch (e) {
    throw new TerminalError('TERM_ERR_LINK_IO', 'cannot list serial ports', {}, { cause: e });
  }
}
