/**
 * Scanner input decoding [reader-link.md §11.2]: keyboard-wedge scanners send boot-keyboard input
 * reports (modifier byte, reserved byte, six key usages); serial scanners send text lines. Both
 * decoders are incremental: `push(chunk)` returns, in order, the complete lines (codes) found so far
 * and a `TERM_ERR_ECARD_SCANNER` error item for each piece of garbage; the partial line is dropped
 * after garbage so that the next scan starts clean. Decoders never
 * throw. The keyboard map is the US layout, the usual factory default.
 */
import { TerminalError } from '../errors.ts';

/** HID usage (keyboard page 07) → [unshifted, shifted] on the US layout [HID Usage Tables §10]. */
const US_LAYOUT: ReadonlyMap<number, readonly [string, string]> = (() => {
  const m = new Map<number, readonly [string, string]>();
  for (let i = 0; i < 26; i++) m.set(0x04 + i, [String.fromCharCode(0x61 + i), String.fromCharCode(0x41 + i)]);
  const digits = '1234567890';
  const shifted = '!@#$%^&*()';
  for (let i = 0; i < 10; i++) m.set(0x1e + i, [digits[i]!, shifted[i]!]);
  const punct: [number, string, string][] = [
    [0x2c, ' ', ' '], [0x2d, '-', '_'], [0x2e, '=', '+'], [0x2f, '[', '{'], [0x30, ']', '}'], [0x31, '\\', '|'],
    [0x33, ';', ':'], [0x34, "'", '"'], [0x35, '`', '~'], [0x36, ',', '<'], [0x37, '.', '>'], [0x38, '/', '?'],
    [0x54, '/', '/'], [0x55, '*', '*'], [0x56, '-', '-'], [0x57, '+', '+'], [0x63, '.', '.'],
  ];
  for (const [u, a, b] of punct) m.set(u, [a, b]);
  const keypad = '1234567890';
  for (let i = 0; i < 10; i++) m.set(0x59 + i, [keypad[i]!, keypad[i]!]);
  return m;
})();

/** Usages that end a code: Enter, Keypad Enter, Tab. */
const TERMINATORS = new Set([0x28, 0x58, 0x2b]);
/** LeftShift | RightShift in the modifier byte. */
const SHIFT = 0x02 | 0x20;
/** Usage 01 in the key slots: ErrorRollOver (too many keys). */
const ERROR_ROLLOVER = 0x01;

export interface WedgeDecoderOptions {
  /** Report ID byte in front of each report (some devices on hidraw); none by default. */
  readonly reportId?: number;
  /** Longest accepted line in characters (default 1024). */
  readonly maxLine?: number;
}

/** One decoded scan: a text line, or the coded error for garbage. */
export type ScanItem = { readonly text: string } | { readonly error: TerminalError };

/** Incremental scanner decoder. */
export interface ScannerDecoder {
  /** Feeds one input report (wedge) or one chunk of bytes (serial); returns lines and errors in order. */
  push(chunk: Uint8Array): ScanItem[];
  /** Drops any partial line. */
  reset(): void;
}

/**
 * Decoder for boot-keyboard input reports [HID 1.11 App. B.1]: a character is produced when a
 * usage appears that was not pressed in the previous report; Shift comes from the modifier byte.
 */
export function createWedgeDecoder(opts: WedgeDecoderOptions = {}): ScannerDecoder {
  const maxLine = opts.maxLine ?? 1024;
  let line = '';
  let pressed = new Set<number>();
  let skipping = false; // after garbage: drop keys up to the next terminator
  const garbage = (detail: string): ScanItem[] => {
    line = '';
    pressed = new Set();
    skipping = true;
    return [{ error: new TerminalError('TERM_ERR_ECARD_SCANNER', detail) }];
  };
  return {
    reset() {
      line = '';
      pressed = new Set();
      skipping = false;
    },
    push(chunk) {
      let r = chunk;
      if (opts.reportId !== undefined) {
        if (r[0] !== opts.reportId) return garbage(`report ID ${r[0]} where ${opts.reportId} was expected`);
        r = r.subarray(1);
      }
      if (r.length !== 8) return garbage(`keyboard report of ${r.length} bytes, expected 8`);
      const shift = (r[0]! & SHIFT) !== 0;
      const now = new Set<number>();
      const out: ScanItem[] = [];
      for (let i = 2; i < 8; i++) {
        const u = r[i]!;
        if (u === 0) continue;
        if (u === ERROR_ROLLOVER) return [...out, ...garbage('keyboard rollover error')];
        now.add(u);
        if (pressed.has(u)) continue;
        if (TERMINATORS.has(u)) {
          if (!skipping && line.length > 0) out.push({ text: line });
          line = '';
          skipping = false;
          continue;
        }
        if (skipping) continue;
        const ch = US_LAYOUT.get(u);
        if (ch === undefined) return [...out, ...garbage(`key usage ${u.toString(16).padStart(2, '0')} has no character`)];
        line += shift ? ch[1] : ch[0];
        if (line.length > maxLine) return [...out, ...garbage(`line longer than ${maxLine} characters`)];
      }
      pressed = now;
      return out;
    },
  };
}

export interface SerialDecoderOptions {
  /** Longest accepted line in characters (default 1024). */
  readonly maxLine?: number;
}

/**
 * Decoder for serial scanners: lines end with CR, LF or CR LF; empty lines are skipped; bytes
 * outside printable ASCII (other than the terminators) are garbage.
 */
export function createSerialLineDecoder(opts: SerialDecoderOptions = {}): ScannerDecoder {
  const maxLine = opts.maxLine ?? 1024;
  let line = '';
  let skipping = false; // after garbage: drop bytes up to the next terminator
  return {
    reset() {
      line = '';
      skipping = false;
    },
    push(chunk) {
      const out: ScanItem[] = [];
      const bad = (detail: string): void => {
        out.push({ error: new TerminalError('TERM_ERR_ECARD_SCANNER', detail) });
        line = '';
        skipping = true;
      };
      for (const b of chunk) {
        if (b === 0x0d || b === 0x0a) {
          if (!skipping && line.length > 0) out.push({ text: line });
          line = '';
          skipping = false;
          continue;
        }
        if (skipping) continue;
        if (b < 0x20 || b > 0x7e) {
          bad(`byte ${b.toString(16).padStart(2, '0')} is not printable`);
          continue;
        }
        line += String.fromCharCode(b);
        if (line.length > maxLine) bad(`line longer than ${maxLine} characters`);
      }
      return out;
    },
  };
}
