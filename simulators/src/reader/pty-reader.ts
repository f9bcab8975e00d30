/**
 * Pseudo-terminal adapter of the simulated serial reader: opens a raw line on a pseudo-terminal
 * linked at the requested PATH ({@link openPtyLine}, the pty set-up shared with the other serial
 * devices) and shuttles bytes between the master side and the sans-I/O core. Optional wire
 * timing delays each written byte as an 11-bit character at the given baud rate.
 */
import { SimulatorError } from '../errors.ts';
import { openPtyLine } from '../pty/line.ts';
import type { ReaderCard } from './card-port.ts';
import { createReaderCore, type ReaderCore, type ReaderCoreOptions, type ReaderEvent, type ReaderStatus, type ReaderStep } from './core.ts';

export interface SerialReaderOptions extends ReaderCoreOptions {
  /** Where to put the symlink to the slave side (e.g. /tmp/onecard-reader). */
  readonly path?: string;
  /** Delay bytes as a real line at this baud with 11-bit characters (8N2 + start bit). */
  readonly wireTimingBaud?: number;
  readonly onEvent?: (e: ReaderEvent | { readonly type: 'closed' }) => void;
}

export interface SerialReader {
  /** The slave device (e.g. /dev/pts/3). */
  readonly ptsName: string;
  /** The symlink (or the slave device when no path was asked). */
  readonly path: string;
  readonly core: ReaderCore;
  insert(slot: number, card: ReaderCard): void;
  remove(slot: number): void;
  swap(slot: number, card: ReaderCard): void;
  status(): ReaderStatus;
  /** Unplugs the reader: closes the pty and removes the link. */
  close(): Promise<void>;
  readonly closed: Promise<void>;
}

/**
 * Opens a simulated serial reader on a fresh pseudo-terminal.
 * @throws SimulatorError SIM_ERR_READER_PTY when the pty or the link cannot be made;
 * SIM_ERR_READER_MODEL / SIM_ERR_READER_SLOT from the core.
 */
export function openSerialReader(opts: SerialReaderOptions): SerialReader {
  const core = createReaderCore(opts);
  const emit = opts.onEvent ?? (() => undefined);
  const perByteMs = opts.wireTimingBaud !== undefined && opts.wireTimingBaud > 0 ? 11_000 / opts.wireTimingBaud : 0;

  // Writes go out strictly in order; each waits its delay after the previous one.
  let chain: Promise<void> = Promise.resolve();
  const waitCell = new Int32Array(new SharedArrayBuffer(4));
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  /**
   * Waits until `deadline` (performance.now() ms) and never returns earlier. Timers fire on whole
   * milliseconds, early or late against the real clock; sleeping "n bytes × 11 bits / baud" with
   * a timer per write added a millisecond or two per frame that no real line has. The wire clock
   * is absolute instead: a timer covers the bulk of a long wait, and the last stretch (≤ 2 ms)
   * is a precise blocking wait. Blocking costs nothing here: the line is half duplex, so while a
   * frame is on the wire the host has nothing to send.
   */
  const sleepUntil = (deadline: number): Promise<void> =>
    new Promise((resolve) => {
      const finish = (): void => {
        for (let left = deadline - performance.now(); left > 0 && !line.isClosed; left = deadline - performance.now()) {
          if (left > 2) {
            setTimeout(finish, left - 2);
            return;
          }
          Atomics.wait(waitCell, 0, 0, left);
        }
        resolve();
      };
      finish();
    });
  /** When the line is next free in each direction (host → reader, reader → host). */
  let inFreeAt = 0;
  let outFreeAt = 0;
  /** `notBefore`: with wire timing, when the host frame that caused these writes has fully arrived. */
  const apply = (step: ReaderStep, notBefore = 0): void => {
    for (const e of step.events) emit(e);
    for (const w of step.writes) {
      chain = chain.then(async () => {
        if (line.isClosed) return;
        if (perByteMs > 0 && w.delayMs > 0) await sleepUntil(notBefore); // the delay runs from the command's arrival
        if (w.delayMs > 0) await sleep(w.delayMs);
        if (perByteMs > 0) {
          // the frame starts once the reader sends it (not before the command has crossed the
          // line, nor before the line is free) and ends n characters later
          const start = Math.max(performance.now(), notBefore, outFreeAt);
          outFreeAt = start + perByteMs * w.bytes.length;
          await sleepUntil(outFreeAt);
        }
        await line.writeAll(w.bytes);
      });
    }
    if (step.unplug) chain = chain.then(() => line.close());
  };

  const receive = (bytes: Uint8Array): void => {
    if (perByteMs > 0) {
      // the last byte of a host frame arrives only after the whole frame has crossed the line,
      // which it started to do when the host wrote it (or when its previous bytes had crossed)
      inFreeAt = Math.max(performance.now(), inFreeAt) + perByteMs * bytes.length;
      // The reader core answers at once (a simulated reader takes no processing time), so the
      // response is computed now and held back until the command has crossed the line and then
      // the response itself has: one wait per frame pair instead of two, same timing at the host.
      apply(core.receive(bytes), inFreeAt);
    } else {
      apply(core.receive(bytes));
    }
  };
  const line = openPtyLine({
    ...(opts.path === undefined ? {} : { path: opts.path }),
    onData: receive,
    onClose: () => emit({ type: 'closed' }),
    mapError: (stage, cause) => stage === 'open'
      ? new SimulatorError('SIM_ERR_READER_PTY', 'node-pty open failed', {}, { cause })
      : new SimulatorError('SIM_ERR_READER_PTY', `cannot link ${opts.path}`, { path: opts.path }, { cause }),
  });

  return {
    ptsName: line.ptsName,
    path: line.path,
    core,
    insert: (slot, card) => apply(core.insert(slot, card)),
    remove: (slot) => apply(core.remove(slot)),
    swap: (slot, card) => apply(core.swap(slot, card)),
    status: () => core.status(),
    close: () => line.close(),
    closed: line.closed,
  };
}
