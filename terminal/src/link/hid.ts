/**
 * HID reader transport over `node-hid` (hidraw driver on Linux, reader-link.md §11.4): one write
 * is one output report (report id in byte 0), one data chunk is one input report. node-hid has no
 * hotplug events: a failed read surfaces as an `error` event, after which the device is closed
 * (deferred, since closing inside the read callback can crash) and the loss is reported; the
 * reader manager re-opens it after re-enumerating. The device opener is injectable so that the
 * simulated HID reader (`@onecard/simulators`, reader-hid) can stand in for `/dev/hidraw*`.
 */
import { createRequire } from 'node:module';
import { TerminalError } from '../errors.ts';
import { claimDevice, releaseDevice, TransportListeners, type ReaderTransport } from './transport.ts';

/** The part of node-hid's `HIDAsync` / `HID` device object the transport uses. */
export interface HidDeviceLike {
  /** Writes one output report; the first byte is the report id (`00` when the device has none). */
  write(values: number[] | Buffer): number | Promise<number>;
  on(event: 'data', listener: (data: Buffer) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeAllListeners(event?: string): unknown;
  close(): void | Promise<void>;
}

/** Opens a HID device by path. */
export type HidOpener = (path: string) => Promise<HidDeviceLike>;

interface NodeHidModule {
  setDriverType(type: 'hidraw' | 'libusb'): void;
  HIDAsync: { open(path: string): Promise<HidDeviceLike> };
  devicesAsync(): Promise<Array<{ vendorId: number; productId: number; path?: string; product?: string; manufacturer?: string; serialNumber?: string; usagePage?: number; usage?: number }>>;
}

let nodeHid: NodeHidModule | undefined;
function loadNodeHid(): NodeHidModule {
  if (nodeHid === undefined) {
    const m = createRequire(import.meta.url)('node-hid') as NodeHidModule;
    // [reader-link §11.4] hidraw exposes usagePage/usage and leaves the kernel driver alone.
    m.setDriverType('hidraw');
    nodeHid = m;
  }
  return nodeHid;
}

/** The default opener: node-hid's async API with the hidraw driver. */
export const nodeHidOpener: HidOpener = async (path) => loadNodeHid().HIDAsync.open(path);

/** Options of {@link createHidTransport}. */
export interface HidTransportOptions {
  readonly path: string;
  /** Default: node-hid `HIDAsync.open` with the hidraw driver. */
  readonly opener?: HidOpener;
}

class HidTransport implements ReaderTransport {
  readonly kind = 'hid' as const;
  readonly path: string;
  readonly #opener: HidOpener;
  readonly #listeners = new TransportListeners();
  #device: HidDeviceLike | undefined;
  #opening = false;

  constructor(opts: HidTransportOptions) {
    this.path = opts.path;
    this.#opener = opts.opener ?? nodeHidOpener;
  }

  get isOpen(): boolean {
    return this.#device !== undefined;
  }

  async open(): Promise<void> {
    if (this.#device !== undefined || this.#opening) throw new TerminalError('TERM_ERR_LINK_BUSY', this.path, { path: this.path });
    claimDevice(`hid:${this.path}`);
    this.#opening = true;
    let dev: HidDeviceLike;
    try {
      dev = await this.#opener(this.path);
    } catch (e) {
      releaseDevice(`hid:${this.path}`);
      throw new TerminalError('TERM_ERR_LINK_OPEN', `${this.path}: ${(e as Error).message}`, { path: this.path }, { cause: e });
    } finally {
      this.#opening = false;
    }
    this.#device = dev;
    dev.on('data', (d: Buffer) => {
      if (this.#device === dev) this.#listeners.data(new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice());
    });
    dev.on('error', (e: Error) => {
      // [reader-link §11.4] a read error means the device is gone; close it outside the callback.
      setImmediate(() => this.#lost(dev, new TerminalError('TERM_ERR_LINK_CLOSED', `${this.path}: ${e.message}`, { path: this.path }, { cause: e })));
    });
  }

  #release(dev: HidDeviceLike): boolean {
    if (this.#device !== dev) return false;
    this.#device = undefined;
    releaseDevice(`hid:${this.path}`);
    dev.removeAllListeners('data');
    return true;
  }

  async #closeDevice(dev: HidDeviceLike): Promise<void> {
    try {
      await dev.close();
    } catch {
      /* already gone */
    }
    dev.removeAllListeners('error');
    dev.on('error', () => undefined);
  }

  #lost(dev: HidDeviceLike, error: TerminalError): void {
    if (!this.#release(dev)) return;
    void this.#closeDevice(dev);
    this.#listeners.closed(error);
  }

  async close(): Promise<void> {
    const dev = this.#device;
    if (dev === undefined) return;
    this.#release(dev);
    await this.#closeDevice(dev);
    this.#listeners.closed(null);
  }

  async write(bytes: Uint8Array): Promise<void> {
    const dev = this.#device;
    if (dev === undefined) throw new TerminalError('TERM_ERR_LINK_CLOSED', this.path, { path: this.path });
    try {
      await dev.write(Buffer.from(bytes));
    } catch (e) {
      if (this.#device !== dev) throw new TerminalError('TERM_ERR_LINK_CLOSED', this.path, { path: this.path }, { cause: e });
      const err = new TerminalError('TERM_ERR_LINK_IO', `${this.path}: ${(e as Error).message}`, { path: this.path }, { cause: e });
      setImmediate(() => this.#lost(dev, err));
      throw err;
    }
    if (this.#device !== dev) throw new TerminalError('TERM_ERR_LINK_CLOSED', this.path, { path: this.path });
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    return this.#listeners.onData(listener);
  }

  onClose(listener: (error: TerminalError | null) => void): () => void {
    return this.#listeners.onClose(listener);
  }
}

/** Creates a (closed) HID transport for `path`. Never throws; `open()` reports failures. */
export function createHidTransport(opts: HidTransportOptions): ReaderTransport {
  return new HidTransport(opts);
}

/** One HID device as node-hid enumerates it. */
export interface HidDeviceInfo {
  readonly path: string;
  readonly vendorId: number;
  readonly productId: number;
  readonly product?: string;
  readonly manufacturer?: string;
  readonly serialNumber?: string;
  readonly usagePage?: number;
  readonly usage?: number;
}

/**
 * Lists HID devices (hidraw driver) for `onecard-terminal readers`. Enumeration is expensive:
 * do not poll it for hotplug [reader-link §11.4].
 * @throws TerminalError `TERM_ERR_LINK_IO` when node-hid cannot enumerate.
 */
export async function listHidDevices(): Promise<HidDeviceInfo[]> {
  try {
    const list = await loadNodeHid().devicesAsync();
    return list
      .filter((d) => d.path !== undefined)
      .map((d) => ({
        path: d.path as string, vendorId: d.vendorId, productId: d.productId,
        ...(d.product === undefined ? {} : { product: d.product }),
        ...(d.manufacturer === undefined ? {} : { manufacturer: d.manufacturer }),
        ...(d.serialNumber === undefined ? {} : { serialNumber: d.serialNumber }),
        ...(d.usagePage === undefined ? {} : { usagePage: d.usagePage }),
        ...(d.usage === undefined ? {} : { usage: d.usage }),
      }));
  } catch (e) {
    throw new TerminalError('TERM_ERR_LINK_IO', 'cannot list HID devices', {}, { cause: e });
  }
}
