/**
 * Sans-I/O core of the simulated PIN pad: the pad side of the OneCard PIN pad line protocol
 * (docs/kiosk.md "PIN pad"; the terminal's driver is terminal/src/pinpad/line-pinpad.ts). The
 * terminal's lines go in through {@link PinPadCore.receive}; the holder's key presses through
 * {@link PinPadCore.press}; both return the lines the pad sends back. Keys pressed while no entry
 * is open are ignored, as on a real pad; so are Enter before the shortest PIN and digits past the
 * longest. The digits leave the core only in the `PIN` line; {@link PinPadCore.status} and events
 * carry counts.
 */
import { SimulatorError } from '../errors.ts';

/** What the pad did, for the simulator's log (never a digit). */
export type PinPadEvent =
  | { readonly type: 'prompt'; readonly minLength: number; readonly maxLength: number }
  | { readonly type: 'abort' }
  | { readonly type: 'key'; readonly count: number }
  | { readonly type: 'entered'; readonly length: number }
  | { readonly type: 'cancel' }
  | { readonly type: 'line-ignored'; readonly length: number };

export interface PinPadStatus {
  /** An entry is open (the terminal sent ENTER). */
  readonly prompting: boolean;
  readonly count: number;
  readonly minLength: number;
  readonly maxLength: number;
  /** Entries the terminal opened so far. */
  readonly prompts: number;
}

export interface PinPadStep {
  /** Bytes to send to the terminal, in order. */
  readonly writes: readonly Uint8Array[];
  readonly events: readonly PinPadEvent[];
}

export interface PinPadCore {
  receive(bytes: Uint8Array): PinPadStep;
  /**
   * The holder presses `keys`: `0`–`9`, `B` (correction: last digit off), `E` (Enter), `C` (Cancel).
   * @throws SimulatorError `SIM_ERR_PINPAD_KEY` for any other character (nothing is pressed then)
   */
  press(keys: string): PinPadStep;
  status(): PinPadStatus;
}

const enc = new TextEncoder();

export function createPinPadCore(): PinPadCore {
  let buffer = '';
  let open = false;
  let digits: string[] = [];
  let min = 4;
  let max = 12;
  let prompts = 0;
  const line = (s: string): Uint8Array => enc.encode(`${s}\n`);
  const clear = (): void => {
    digits.fill('');
    digits = [];
  };
  return {
    receive(bytes) {
      const writes: Uint8Array[] = [];
      const events: PinPadEvent[] = [];
      buffer += new TextDecoder('latin1').decode(bytes);
      for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
        const l = buffer.slice(0, i).replace(/\r$/, '');
        buffer = buffer.slice(i + 1);
        const m = /^ENTER (\d{1,2}) (\d{1,2})$/.exec(l);
        if (m !== null && Number(m[1]) >= 1 && Number(m[1]) <= Number(m[2])) {
          open = true;
          clear();
          min = Number(m[1]);
          max = Number(m[2]);
          prompts++;
          events.push({ type: 'prompt', minLength: min, maxLength: max });
        } else if (l === 'ABORT') {
          open = false;
          clear();
          events.push({ type: 'abort' });
        } else {
          events.push({ type: 'line-ignored', length: l.length });
        }
      }
      if (buffer.length > 64) buffer = '';
      return { writes, events };
    },
    press(keys) {
      const bad = /[^0-9BEC]/.exec(keys);
      if (bad !== null) throw new SimulatorError('SIM_ERR_PINPAD_KEY', `key ${JSON.stringify(bad[0])} at ${bad.index}`, { offset: bad.index });
      const writes: Uint8Array[] = [];
      const events: PinPadEvent[] = [];
      for (const k of keys) {
        if (!open) continue;
        if (k === 'C') {
          open = false;
          clear();
          writes.push(line('CANCEL'));
          events.push({ type: 'cancel' });
        } else if (k === 'E') {
          if (digits.length < min) continue;
          const pin = digits.join('');
          events.push({ type: 'entered', length: digits.length });
          open = false;
          clear();
          writes.push(line(`PIN ${pin}`));
        } else if (k === 'B') {
          if (digits.length === 0) continue;
          digits.pop();
          writes.push(line(`KEY ${digits.length}`));
          events.push({ type: 'key', count: digits.length });
        } else {
          if (digits.length >= max) continue;
          digits.push(k);
          writes.push(line(`KEY ${digits.length}`));
          events.push({ type: 'key', count: digits.length });
        }
      }
      return { writes, events };
    },
    status: () => ({ prompting: open, count: digits.length, minLength: min, maxLength: max, prompts }),
  };
}
