/**
 * The PIN pad seam. Where a kiosk box has a PIN pad device, the holder's PIN goes from the pad to
 * the terminal process and from there to the card: it never passes through the page, which only
 * learns how many digits were pressed. A {@link PinPad} is the device (a driver such as
 * `line-pinpad.ts`, or an in-memory pad in tests); {@link PinEntry} is what the local API uses: one
 * entry at a time, progress events for the page (counts, never digits), cancellation by the page
 * or when the card leaves, and a time limit.
 */
import { EventEmitter } from 'node:events';
import { TerminalError } from '../errors.ts';

/** One PIN read from the device. */
export interface PinReadRequest {
  readonly minLength: number;
  readonly maxLength: number;
  /** Aborting ends the entry on the device (`TERM_ERR_PINPAD_CANCELLED`, or the signal's reason when it is a TerminalError). */
  readonly signal: AbortSignal;
  /** Called with the number of digits on the pad after each key press or correction (never the digits). */
  readonly onKey: (count: number) => void;
}

/**
 * A PIN pad device. Implementations must not log, keep or emit the digits: the only way out of
 * the device for them is the resolved value of {@link PinPad.readPin}.
 */
export interface PinPad {
  /**
   * Prompts the holder and resolves with the digits once they press Enter.
   * @throws TerminalError `TERM_ERR_PINPAD_CANCELLED` (holder pressed Cancel, or `signal` aborted),
   *   `TERM_ERR_PINPAD_UNAVAILABLE` (device gone), `TERM_ERR_PINPAD_PROTOCOL`, `TERM_ERR_PINPAD_BUSY`
   */
  readPin(req: PinReadRequest): Promise<string>;
  /** Whether the device is there now. */
  readonly connected: boolean;
  close(): Promise<void>;
}

/** Why a PIN is asked for (shown by the page: "current PIN", "new PIN", …). */
export const PIN_PURPOSES = ['verify', 'old', 'new', 'again', 'loss'] as const;
export type PinPurpose = (typeof PIN_PURPOSES)[number];

/** Progress of an entry, sent to the pages over the WebSocket as `{type: 'pinpad', …}`. */
export type PinEntryProgress =
  | { readonly state: 'prompt'; readonly purpose: PinPurpose; readonly count: 0 }
  | { readonly state: 'key'; readonly purpose: PinPurpose; readonly count: number }
  | { readonly state: 'done' | 'cancelled'; readonly purpose: PinPurpose };

export interface PinEntryOptions {
  /** Longest wait for the holder, ms (default 60 000). */
  readonly timeoutMs?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
}

/**
 * Serialises PIN entries on one pad. `events` emits `'progress'` ({@link PinEntryProgress}).
 */
export class PinEntry {
  readonly events = new EventEmitter();
  readonly #pad: PinPad;
  readonly #timeoutMs: number;
  readonly #min: number;
  readonly #max: number;
  #current: AbortController | undefined;

  constructor(pad: PinPad, opts: PinEntryOptions = {}) {
    this.#pad = pad;
    this.#timeoutMs = opts.timeoutMs ?? 60_000;
    this.#min = opts.minLength ?? 4;
    this.#max = opts.maxLength ?? 12;
  }

  /** Whether a pad is connected (for `GET /v1/pinpad`). */
  get connected(): boolean {
    return this.#pad.connected;
  }

  /** Whether an entry is running. */
  get busy(): boolean {
    return this.#current !== undefined;
  }

  /**
   * Reads one PIN for `purpose`.
   * @throws TerminalError `TERM_ERR_PINPAD_BUSY` (an entry is running), `TERM_ERR_PINPAD_TIMEOUT`,
   *   `TERM_ERR_PINPAD_CANCELLED`, `TERM_ERR_PINPAD_UNAVAILABLE`, `TERM_ERR_PINPAD_PROTOCOL`
   */
  async read(purpose: PinPurpose): Promise<string> {
    if (this.#current !== undefined) throw new TerminalError('TERM_ERR_PINPAD_BUSY');
    if (!this.#pad.connected) throw new TerminalError('TERM_ERR_PINPAD_UNAVAILABLE');
    const ac = new AbortController();
    this.#current = ac;
    const timer = setTimeout(() => ac.abort(new TerminalError('TERM_ERR_PINPAD_TIMEOUT', `${this.#timeoutMs} ms`)), this.#timeoutMs);
    this.#emit({ state: 'prompt', purpose, count: 0 });
    try {
      const pin = await this.#pad.readPin({ minLength: this.#min, maxLength: this.#max, signal: ac.signal, onKey: (count) => this.#emit({ state: 'key', purpose, count }) });
      this.#emit({ state: 'done', purpose });
      return pin;
    } catch (e) {
      this.#emit({ state: 'cancelled', purpose });
      throw e instanceof TerminalError ? e : new TerminalError('TERM_ERR_PINPAD_UNAVAILABLE', undefined, {}, { cause: e });
    } finally {
      clearTimeout(timer);
      this.#current = undefined;
    }
  }

  /**
   * Ends the running entry, if any, which then rejects with `reason` (default
   * `TERM_ERR_PINPAD_CANCELLED`). Returns whether one was running.
   */
  cancel(reason: TerminalError = new TerminalError('TERM_ERR_PINPAD_CANCELLED')): boolean {
    const ac = this.#current;
    if (ac === undefined) return false;
    ac.abort(reason);
    return true;
  }

  #emit(p: PinEntryProgress): void {
    this.events.emit('progress', p);
  }
}

/** The abort reason of `signal` as a TerminalError (`TERM_ERR_PINPAD_CANCELLED` by default). */
export function abortError(signal: AbortSignal): TerminalError {
  return signal.reason instanceof TerminalError ? signal.reason : new TerminalError('TERM_ERR_PINPAD_CANCELLED');
}
