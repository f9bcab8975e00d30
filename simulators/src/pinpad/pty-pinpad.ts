/**
 * Pseudo-terminal adapter of the simulated PIN pad: a raw serial line at PATH (the terminal's
 * `pinpad.path`) carrying the sans-I/O {@link createPinPadCore}'s side of the line protocol.
 */
import { SimulatorError } from '../errors.ts';
import { openPtyLine, type PtyLine } from '../pty/line.ts';
import { createPinPadCore, type PinPadCore, type PinPadEvent, type PinPadStatus, type PinPadStep } from './core.ts';

export interface SerialPinPad {
  readonly ptsName: string;
  readonly path: string;
  readonly core: PinPadCore;
  /** The holder presses keys (see {@link PinPadCore.press}). */
  press(keys: string): void;
  status(): PinPadStatus;
  /** Unplugs the pad: closes the pty and removes the link. */
  close(): Promise<void>;
  readonly closed: Promise<void>;
}

/**
 * Opens a simulated PIN pad on a fresh pseudo-terminal.
 * @throws SimulatorError `SIM_ERR_PINPAD_PTY`
 */
export function openSerialPinPad(opts: { readonly path?: string; readonly onEvent?: (e: PinPadEvent | { readonly type: 'closed' }) => void } = {}): SerialPinPad {
  const core = createPinPadCore();
  const emit = opts.onEvent ?? (() => undefined);
  let line: PtyLine | undefined;
  const apply = (step: PinPadStep): void => {
    for (const e of step.events) emit(e);
    for (const w of step.writes) {
      line?.write(w);
      w.fill(0);
    }
  };
  try {
    line = openPtyLine({ ...(opts.path === undefined ? {} : { path: opts.path }), onData: (b) => apply(core.receive(b)), onClose: () => emit({ type: 'closed' }) });
  } catch (e) {
    throw new SimulatorError('SIM_ERR_PINPAD_PTY', opts.path ?? 'pty', opts.path === undefined ? {} : { path: opts.path }, { cause: e });
  }
  const l = line;
  return {
    ptsName: l.ptsName,
    path: l.path,
    core,
    press: (keys) => apply(core.press(keys)),
    status: () => core.status(),
    close: () => l.close(),
    closed: l.closed,
  };
}
