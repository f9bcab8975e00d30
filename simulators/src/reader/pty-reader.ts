/**
 * Pseudo-terminal adapter of the simulated serial reader: creates a pty with node-pty, puts the
 * slave side in raw mode, keeps a slave descriptor open (so the master never sees a hang-up
 * between two opens by the driver) while reading nothing from it, links the slave path at the
 * requested PATH, and shuttles bytes between the master side and the sans-I/O core. Optional
 * wire timing delays each written byte as an 11-bit character at the given baud rate.
 */
import * as fs from 'node:fs';
import type { ReadStream } from 'node:tty';
import { createRequire } from 'node:module';
import { SimulatorError } from '../errors.ts';
import type { ReaderCard } from './card-port.ts';
import { createReaderCore, type ReaderCore, type ReaderCoreOptions, type ReaderEvent, type ReaderStatus, type ReaderStep } from './core.ts';

const require = createRequire(import.meta.url);

interface PtyHandle {
  readonly _master: ReadStream;
  readonly _slave: ReadStream;
  readonly _fd: number;
  readonly ptsName: string;
}

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
  let pty: PtyHandle;
  try {
    const nodePty = require('node-pty') as { open(o: { encoding: null }): PtyHandle };
    pty = nodePty.open({ encoding: null });
  } catch (e) {
    throw new SimulatorError('SIM_ERR_READER_PTY', 'node-pty open failed', {}, { cause: e });
  }
  const ptsName = pty.ptsName;
  pty._slave.setRawMode(true); // cfmakeraw on the slave: no echo, no CR/LF mapping, 8 bits
  const keepFd = fs.openSync(ptsName, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
  pty._slave.destroy(); // node-pty's slave reader must not steal the driver's bytes
  const masterFd = pty._fd;
  const master = pty._master;
  const path = opts.path ?? ptsName;
  if (opts.path !== undefined) {
    try {
      fs.rmSync(opts.path, { force: true });
      fs.symlinkSync(ptsName, opts.path);
    } catch (e) {
      fs.closeSync(keepFd);
      master.destroy();
      throw new SimulatorError('SIM_ERR_READER_PTY', `cannot link ${opts.path}`, { path: opts.path }, { cause: e });
    }
  }
  const emit = opts.onEvent ?? (() => undefined);
  const perByteMs = opts.wireTimingBaud !== undefined && opts.wireTimingBaud > 0 ? 11_000 / opts.wireTimingBaud : 0;

  let isClosed = false;
  let resolveClosed: () => void = () => undefined;
  const closed = new Promise<void>((r) => {
    resolveClosed = r;
  });
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
        for (let left = deadline - performance.now(); left > 0 && !isClosed; left = deadline - performance.now()) {
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
  const writeAll = async (bytes: Uint8Array): Promise<void> => {
    let off = 0;
    while (off < bytes.length && !isClosed) {
      try {
        off += fs.writeSync(masterFd, bytes, off, bytes.length - off);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') await sleep(2);
        else return;
      }
    }
  };
  /** `notBefore`: with wire timing, when the host frame that caused these writes has fully arrived. */
  const apply = (step: ReaderStep, notBefore = 0): void => {
    for (const e of step.events) emit(e);
    for (const w of step.writes) {
      chain = chain.then(async () => {
        if (isClosed) return;
        if (perByteMs > 0 && w.delayMs > 0) await sleepUntil(notBefore); // the delay runs from the command's arrival
        if (w.delayMs > 0) await sleep(w.delayMs);
        if (perByteMs > 0) {
          // the frame starts once the reader sends it (not before the command has crossed the
          // line, nor before the line is free) and ends n characters later
          const start = Math.max(performance.now(), notBefore, outFreeAt);
          outFreeAt = start + perByteMs * w.bytes.length;
          await sleepUntil(outFreeAt);
        }
        await writeAll(w.bytes);
      });
    }
    if (step.unplug) chain = chain.then(() => doClose());
  };

  const doClose = async (): Promise<void> => {
    if (isClosed) return;
    isClosed = true;
    master.destroy();
    try {
      fs.closeSync(keepFd);
    } catch {
      /* already closed */
    }
    if (opts.path !== undefined) {
      try {
        if (fs.readlinkSync(opts.path) === ptsName) fs.rmSync(opts.path, { force: true });
      } catch {
        /* link gone */
      }
    }
    emit({ type: 'closed' });
    resolveClosed();
  };

  master.on('data', (chunk: Buffer) => {
    const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength).slice();
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
  });
  master.on('error', () => {
    /* EIO when no slave is open: harmless, a slave descriptor is kept open */
  });

  return {
    ptsName,
    path,
    core,
    insert: (slot, card) => apply(core.insert(slot, card)),
    remove: (slot) => apply(core.remove(slot)),
    swap: (slot, card) => apply(core.swap(slot, card)),
    status: () => core.status(),
    close: async () => {
      await doClose();
    },
    closed,
  };
}
