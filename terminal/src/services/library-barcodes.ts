/**
 * Book barcodes from the loan desk's scanners, through the same seam as the e-card scanners
 * (`runtime/scanners.ts`: a byte device and a keyboard-wedge or serial-line decoder). Each decoded
 * line that is a plausible item barcode is offered to whoever waits for one; a line that is not is
 * dropped and logged by length only. A scan nobody waits for is kept briefly, so a holder who
 * scans before pressing the button is not asked to scan again.
 */
import type { Logger } from 'pino';
import type { ScannerDecoder } from '../ecard/index.ts';
import type { ScannerDevice } from '../runtime/scanners.ts';
import { TerminalError } from '../errors.ts';

/** Item barcodes the desk accepts: 1–32 letters, digits and dashes (what SIP2 AB carries here). */
export const ITEM_BARCODE = /^[0-9A-Za-z-]{1,32}$/;

export class BarcodeScans {
  readonly #waiters: ((barcode: string) => void)[] = [];
  readonly #keepMs: number;
  readonly #now: () => number;
  readonly #logger: Logger | undefined;
  #held: { barcode: string; at: number } | undefined;

  constructor(o: { keepMs?: number; clock?: () => number; logger?: Logger } = {}) {
    this.#keepMs = o.keepMs ?? 30_000;
    this.#now = o.clock ?? Date.now;
    this.#logger = o.logger;
  }

  /** One decoded line from a scanner. */
  offer(line: string): void {
    const barcode = line.trim();
    if (!ITEM_BARCODE.test(barcode)) {
      this.#logger?.info({ length: barcode.length }, 'scanned text is not an item barcode');
      return;
    }
    const w = this.#waiters.shift();
    if (w !== undefined) w(barcode);
    else this.#held = { barcode, at: this.#now() };
  }

  /**
   * The next barcode (or one scanned in the last `keepMs`).
   * @throws TerminalError `TERM_ERR_LIBRARY_NO_SCAN` after `timeoutMs`
   */
  next(timeoutMs: number): Promise<string> {
    const held = this.#held;
    this.#held = undefined;
    if (held !== undefined && this.#now() - held.at <= this.#keepMs) return Promise.resolve(held.barcode);
    return new Promise<string>((resolve, reject) => {
      const w = (b: string): void => { clearTimeout(timer); resolve(b); };
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(w);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new TerminalError('TERM_ERR_LIBRARY_NO_SCAN', `${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push(w);
    });
  }

  /** Feeds a scanner device through its decoder into this queue. */
  attach(device: ScannerDevice, decoder: ScannerDecoder, name = 'barcode-scanner'): void {
    device.on('data', (data) => {
      for (const item of decoder.push(new Uint8Array(data))) {
        if ('error' in item) this.#logger?.info({ scanner: name, code: item.error.code }, 'barcode scanner garbage');
        else this.offer(item.text);
      }
    });
    device.on('error', (e) => this.#logger?.warn({ scanner: name, err: e.message }, 'barcode scanner error'));
  }
}
