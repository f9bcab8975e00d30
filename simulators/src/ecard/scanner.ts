/**
 * Simulated e-card QR scanners [reader-link.md §11.2]: a keyboard-wedge scanner as a node-hid-like
 * device object (`on('data')` with 8-byte boot-keyboard reports, `on('error')`, `write`, `close`),
 * the report sequence for a text (press, release per character, Enter at the end, US layout), and
 * the byte stream of a serial scanner.
 */
import { EventEmitter } from 'node:events';
import { SimulatorError } from '../errors.ts';

/** Character → [usage, shift] on the US layout. */
const KEYS: ReadonlyMap<string, readonly [number, boolean]> = (() => {
  const m = new Map<string, readonly [number, boolean]>();
  for (let i = 0; i < 26; i++) {
    m.set(String.fromCharCode(0x61 + i), [0x04 + i, false]);
    m.set(String.fromCharCode(0x41 + i), [0x04 + i, true]);
  }
  '1234567890'.split('').forEach((c, i) => m.set(c, [0x1e + i, false]));
  '!@#$%^&*()'.split('').forEach((c, i) => m.set(c, [0x1e + i, true]));
  const rows: [number, string, string][] = [
    [0x2c, ' ', ''], [0x2d, '-', '_'], [0x2e, '=', '+'], [0x2f, '[', '{'], [0x30, ']', '}'], [0x31, '\\', '|'],
    [0x33, ';', ':'], [0x34, "'", '"'], [0x35, '`', '~'], [0x36, ',', '<'], [0x37, '.', '>'], [0x38, '/', '?'],
  ];
  for (const [u, a, b] of rows) {
    m.set(a, [u, false]);
    if (b !== '') m.set(b, [u, true]);
  }
  return m;
})();

export interface WedgeReportOptions {
  /** Prefix every report with this report ID byte. */
  readonly reportId?: number;
}

/**
 * Boot-keyboard input reports typing `text` then Enter: for each character one press report
 * (modifier `02` for Shift) and one all-zero release report.
 * Throws `SIM_ERR_ECARD_SCANNER` for a character the US layout cannot type.
 */
export function keyboardWedgeReports(text: string, opts: WedgeReportOptions = {}): Uint8Array[] {
  const out: Uint8Array[] = [];
  const report = (mod: number, usage: number): Uint8Array => {
    const r = new Uint8Array(8);
    r[0] = mod;
    r[2] = usage;
    return opts.reportId === undefined ? r : Uint8Array.of(opts.reportId, ...r);
  };
  for (const [i, ch] of Array.from(text).entries()) {
    const k = KEYS.get(ch);
    if (k === undefined) throw new SimulatorError('SIM_ERR_ECARD_SCANNER', `character ${JSON.stringify(ch)} at ${i}`, { offset: i });
    out.push(report(k[1] ? 0x02 : 0, k[0]), report(0, 0));
  }
  out.push(report(0, 0x28), report(0, 0));
  return out;
}

/** Bytes a serial scanner sends for `text` (ASCII) followed by the terminator (default CR). */
export function serialScannerBytes(text: string, terminator: '\r' | '\n' | '\r\n' = '\r'): Uint8Array {
  return new TextEncoder().encode(text + terminator);
}

/** A node-hid-like keyboard-wedge scanner; `scan(text)` makes it "read" a code. */
export interface SimulatedWedgeScanner extends EventEmitter {
  readonly path: string;
  /** Emits the reports of `text` as `data` events (one per tick); resolves when all are out. */
  scan(text: string): Promise<void>;
  /** Emits raw reports (for garbage tests). */
  emitReports(reports: readonly Uint8Array[]): Promise<void>;
  /** node-hid write: scanners ignore output reports (LEDs); returns the length. Rejects when closed. */
  write(values: number[] | Uint8Array): Promise<number>;
  /** Raises node-hid's read error, as an unplugged device does. */
  unplug(): void;
  close(): Promise<void>;
}

class WedgeScanner extends EventEmitter implements SimulatedWedgeScanner {
  readonly path: string;
  readonly #reportId: number | undefined;
  #closed = false;

  constructor(path: string, reportId: number | undefined) {
    super();
    this.path = path;
    this.#reportId = reportId;
  }

  async emitReports(reports: readonly Uint8Array[]): Promise<void> {
    for (const r of reports) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.#closed) throw new SimulatorError('SIM_ERR_ECARD_DEVICE', this.path);
      this.emit('data', Buffer.from(r));
    }
  }

  scan(text: string): Promise<void> {
    return this.emitReports(keyboardWedgeReports(text, this.#reportId === undefined ? {} : { reportId: this.#reportId }));
  }

  async write(values: number[] | Uint8Array): Promise<number> {
    if (this.#closed) throw new SimulatorError('SIM_ERR_ECARD_DEVICE', this.path);
    return values.length;
  }

  unplug(): void {
    this.emit('error', new Error('could not read from HID device'));
    this.#closed = true;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

/** Creates a simulated keyboard-wedge scanner (open). */
export function createWedgeScanner(opts: { readonly path?: string; readonly reportId?: number } = {}): SimulatedWedgeScanner {
  return new WedgeScanner(opts.path ?? 'sim-wedge-scanner', opts.reportId);
}
