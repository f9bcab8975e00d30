/**
 * A raw serial line on a fresh pseudo-terminal, the one pty set-up of the simulated serial devices
 * (the card reader, the PIN pad, the serial QR scanner): the slave side in raw mode linked at PATH
 * (what the terminal opens as a serial port), a slave descriptor kept open so the master never
 * sees a hang-up between two opens, and the master side's bytes delivered to `onData`.
 */
import * as fs from 'node:fs';
import type { ReadStream } from 'node:tty';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface PtyHandle {
  readonly _master: ReadStream;
  readonly _slave: ReadStream;
  readonly _fd: number;
  readonly ptsName: string;
}

export interface PtyLine {
  /** The slave device (e.g. /dev/pts/3). */
  readonly ptsName: string;
  /** The symlink (or the slave device when no path was asked). */
  readonly path: string;
  /** Writes to the device's user (the terminal); dropped once closed or when the write fails. */
  write(bytes: Uint8Array): void;
  /** Like {@link write}, but waits out a full pty buffer (EAGAIN) instead of dropping the rest. */
  writeAll(bytes: Uint8Array): Promise<void>;
  /** True once {@link close} has begun. */
  readonly isClosed: boolean;
  /** Unplugs the device: closes the pty and removes the link. */
  close(): Promise<void>;
  readonly closed: Promise<void>;
}

export interface PtyLineOptions {
  /** Where to put the symlink to the slave side. */
  readonly path?: string;
  /** The bytes the device's user wrote (a copy per chunk). */
  readonly onData?: (bytes: Uint8Array) => void;
  /** Called once by {@link PtyLine.close}, before `closed` resolves. */
  readonly onClose?: () => void;
  /**
   * The error to throw when node-pty cannot open a pty (`open`) or the link cannot be made
   * (`link`); by default the underlying error itself, which the caller wraps in its own coded error.
   */
  readonly mapError?: (stage: 'open' | 'link', cause: unknown) => unknown;
}

/**
 * Opens the line.
 * @throws what `mapError` makes (by default the plain underlying Error) when node-pty or the link cannot be made
 */
export function openPtyLine(opts: PtyLineOptions): PtyLine {
  const mapError = opts.mapError ?? ((_stage: 'open' | 'link', cause: unknown): unknown => cause);
  let pty: PtyHandle;
  try {
    pty = (require('node-pty') as { open(o: { encoding: null }): PtyHandle }).open({ encoding: null });
  } catch (e) {
    throw mapError('open', e);
  }
  const ptsName = pty.ptsName;
  pty._slave.setRawMode(true); // cfmakeraw on the slave: no echo, no CR/LF mapping, 8 bits
  const keepFd = fs.openSync(ptsName, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
  pty._slave.destroy(); // node-pty's slave reader must not steal the user's bytes
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
      throw mapError('link', e);
    }
  }
  let isClosed = false;
  let resolveClosed: () => void = () => undefined;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  master.on('data', (chunk: Buffer) => opts.onData?.(new Uint8Array(chunk)));
  master.on('error', () => {
    /* EIO while no slave is open: harmless, a slave descriptor is kept open */
  });
  return {
    ptsName,
    path,
    write(bytes) {
      let off = 0;
      while (off < bytes.length && !isClosed) {
        try {
          off += fs.writeSync(masterFd, bytes, off, bytes.length - off);
        } catch {
          return;
        }
      }
    },
    async writeAll(bytes) {
      let off = 0;
      while (off < bytes.length && !isClosed) {
        try {
          off += fs.writeSync(masterFd, bytes, off, bytes.length - off);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EAGAIN') await new Promise((r) => setTimeout(r, 2));
          else return;
        }
      }
    },
    get isClosed() {
      return isClosed;
    },
    async close() {
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
      opts.onClose?.();
      resolveClosed();
    },
    closed,
  };
}
