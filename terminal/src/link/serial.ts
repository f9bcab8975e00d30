/**
 * Serial reader transport over `serialport`, opened the way the GemPC serial driver opens its
 * line (reader-link.md §8.1): 115200 baud, 8 data bits, 2 stop bits, no parity, no flow control,
 * exclusive, RTS driven low right after opening (so the reader does not send its plug-and-play
 * string), then both directions flushed. Loss of the device is detected from the port's close
 * and error events and from failed writes (`close` does not reliably fire when a USB-serial
 * adapter is pulled, §11.5), and reported once to the close listeners.
 *
 * Exclusive means refused, never shared: `lock: true` (an advisory `flock`) stops programs that
 * lock, and {@link lineHolders} finds those that open a tty without locking it (pcscd's serial
 * driver): the open then fails `TERM_ERR_LINK_BUSY` naming the process.
 *
 * `serialport` opens, configures, locks and closes the line; the byte path runs on its
 * descriptor directly, the way a native driver does: the binding's epoll-based poller says when
 * the line is readable or writable and the bytes are moved with non-blocking `read`/`write`
 * on the event-loop thread. The stream layer would otherwise cost two thread-pool hops per
 * received chunk (a read that meets EAGAIN, then the real read) and one per write, which at
 * 30-odd exchanges per card read made the link slower than the line itself.
 */
import * as fs from 'node:fs';
import { SerialPort } from 'serialport';
import { GEMPC_LINE_SETTINGS } from '@onecard/protocol/ccid';
import { TerminalError } from '../errors.ts';
import { claimDevice, releaseDevice, TransportListeners, type ReaderTransport } from './transport.ts';

/** What the transport uses of the `serialport` binding under the stream (Linux/macOS bindings). */
interface FdBinding {
  readonly fd: number | null;
  readonly isOpen: boolean;
  readonly poller?: { once(event: 'readable' | 'writable', cb: (err: Error | null | undefined) => void): unknown };
  drain(): Promise<void>;
}

/** Read buffer size: larger than any GemPC frame (≤ 271 bytes) several times over. */
const READ_CHUNK = 4096;

/** Errors of a read or write that mean the device went away [reader-link §11.5]. */
function isDisconnect(e: NodeJS.ErrnoException): boolean {
  return e.code === 'EBADF' || e.code === 'ENXIO' || e.code === 'UNKNOWN' || e.errno === -1;
}

function isRetry(e: NodeJS.ErrnoException): boolean {
  return e.code === 'EAGAIN' || e.code === 'EWOULDBLOCK' || e.code === 'EINTR';
}

/** Options of {@link createSerialTransport}. */
export interface SerialTransportOptions {
  readonly path: string;
  /** Default 115200 [CCID serial §8.1]. */
  readonly baudRate?: number;
  /** Default 2 [CCID serial §8.1]. */
  readonly stopBits?: 1 | 2;
}

/** A process other than this one that holds a serial line open. */
export interface LineHolder {
  readonly pid: number;
  /** `/proc/PID/comm`, e.g. `pcscd`. */
  readonly command: string;
}

/**
 * Processes other than this one that hold `device` open, from `/proc/PID/fd` (Linux; elsewhere
 * none are found). `serialport`'s `lock: true` is an advisory `flock`: programs that open a tty
 * without locking it (pcscd's serial driver, `cat`, many scripts) would share the line with us, and
 * interleaved CCID frames are worse than a refused open. The far end of a pseudo-terminal (the
 * process holding the `ptmx` whose `tty-index` is this `/dev/pts/N`, e.g. a simulated reader that
 * also keeps the slave open) is the device, not a competing host, and is not reported.
 * Processes of other users are visible only when /proc lets us read their descriptors (root).
 */
export function lineHolders(device: string, procRoot = '/proc'): LineHolder[] {
  if (process.platform !== 'linux') return [];
  const real = realKey(device);
  const ptsIndex = /^\/dev\/pts\/(\d+)$/.exec(real)?.[1];
  let pids: string[];
  try {
    pids = fs.readdirSync(procRoot);
  } catch {
    return [];
  }
  const out: LineHolder[] = [];
  for (const pid of pids) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    let fds: string[];
    try {
      fds = fs.readdirSync(`${procRoot}/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to read
    }
    let holds = false;
    let farEnd = false;
    for (const fd of fds) {
      let target: string;
      try {
        target = fs.readlinkSync(`${procRoot}/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (target === real) holds = true;
      else if (ptsIndex !== undefined && target.endsWith('/ptmx')) {
        try {
          const m = /^tty-index:\s*(\d+)\s*$/m.exec(fs.readFileSync(`${procRoot}/${pid}/fdinfo/${fd}`, 'utf8'));
          if (m?.[1] === ptsIndex) farEnd = true;
        } catch {
          // fdinfo unreadable: treat as an ordinary descriptor
        }
      }
    }
    if (!holds || farEnd) continue;
    let command = '?';
    try {
      command = fs.readFileSync(`${procRoot}/${pid}/comm`, 'utf8').trim();
    } catch {
      // exited meanwhile
    }
    out.push({ pid: Number(pid), command });
  }
  return out;
}

function realKey(path: string): string {
  try {
    return fs.realpathSync(path);
  } catch {
    return path;
  }
}

class SerialTransport implements ReaderTransport {
  readonly kind = 'serial' as const;
  readonly path: string;
  readonly #baud: number;
  readonly #stopBits: 1 | 2;
  readonly #listeners = new TransportListeners();
  #port: SerialPort | undefined;
  #key: string | undefined;
  #binding: FdBinding | undefined;
  readonly #readBuf = new Uint8Array(READ_CHUNK);

  constructor(opts: SerialTransportOptions) {
    this.path = opts.path;
    this.#baud = opts.baudRate ?? GEMPC_LINE_SETTINGS.baudRate;
    this.#stopBits = opts.stopBits ?? GEMPC_LINE_SETTINGS.stopBits;
  }

  get isOpen(): boolean {
    return this.#port !== undefined;
  }

  async open(): Promise<void> {
    if (this.#port !== undefined) throw new TerminalError('TERM_ERR_LINK_BUSY', this.path, { path: this.path });
    const key = realKey(this.path);
    claimDevice(key);
    // [CCID serial §8.1] 8N2, raw, exclusive; no hardware flow control.
    const port = new SerialPort({
      path: this.path, baudRate: this.#baud, dataBits: 8, stopBits: this.#stopBits, parity: 'none',
      rtscts: false, xon: false, xoff: false, hupcl: false, lock: true, autoOpen: false,
    });
    try {
      await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    } catch (e) {
      releaseDevice(key);
      const busy = /lock|busy|EBUSY|EAGAIN/i.test(String((e as Error).message));
      throw new TerminalError(busy ? 'TERM_ERR_LINK_BUSY' : 'TERM_ERR_LINK_OPEN', `${this.path}: ${(e as Error).message}`, { path: this.path }, { cause: e });
    }
    // Exclusive use of the line: refuse when another process holds it, locked or not.
    const holders = lineHolders(this.path);
    if (holders.length > 0) {
      await new Promise<void>((resolve) => port.close(() => resolve()));
      releaseDevice(key);
      const who = holders.map((h) => `pid ${h.pid} (${h.command})`).join(', ');
      throw new TerminalError('TERM_ERR_LINK_BUSY', `${this.path}: held by ${who}; stop it (e.g. systemctl stop pcscd) or use another port`, { path: this.path, pids: holders.map((h) => h.pid).join(',') });
    }
    // [CCID serial §8.1] drop RTS so the reader does not send its plug-and-play string. A pseudo-
    // terminal has no modem lines and refuses the ioctl; that is not a failure of the link.
    await new Promise<void>((resolve) => port.set({ rts: false, dtr: true }, () => resolve()));
    // [CCID serial §8.1] flush both directions before the first command.
    await new Promise<void>((resolve) => port.flush(() => resolve()));
    this.#port = port;
    this.#key = key;
    const binding = (port as unknown as { port?: FdBinding }).port;
    if (binding !== undefined && typeof binding.fd === 'number' && binding.poller !== undefined) {
      this.#binding = binding;
      this.#pump(port, binding);
    } else {
      // No poller (e.g. the Windows binding): the stream delivers the data.
      this.#binding = undefined;
      port.on('data', (d: Buffer) => {
        if (this.#port === port) this.#listeners.data(new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice());
      });
    }
    port.on('error', (e: Error) => this.#lost(port, new TerminalError('TERM_ERR_LINK_IO', `${this.path}: ${e.message}`, { path: this.path }, { cause: e })));
    port.on('close', (e: unknown) => this.#lost(port, new TerminalError('TERM_ERR_LINK_CLOSED', `${this.path}: device closed`, { path: this.path }, { cause: e })));
  }

  /** Reads whatever the line holds now, then waits for the poller; no thread-pool hop. */
  #pump(port: SerialPort, binding: FdBinding): void {
    const buf = this.#readBuf;
    for (;;) {
      if (this.#port !== port || binding.fd === null) return;
      let n: number;
      try {
        n = fs.readSync(binding.fd, buf, 0, buf.length, null);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (isRetry(err)) break;
        this.#lost(port, isDisconnect(err)
          ? new TerminalError('TERM_ERR_LINK_CLOSED', `${this.path}: device closed`, { path: this.path }, { cause: e })
          : new TerminalError('TERM_ERR_LINK_IO', `${this.path}: ${err.message}`, { path: this.path }, { cause: e }));
        return;
      }
      if (n === 0) break;
      this.#listeners.data(buf.slice(0, n));
    }
    binding.poller!.once('readable', (err) => {
      if (this.#port !== port) return; // closed meanwhile: the poller was cancelled
      if (err) this.#lost(port, new TerminalError('TERM_ERR_LINK_IO', `${this.path}: ${err.message}`, { path: this.path }, { cause: err }));
      else this.#pump(port, binding);
    });
  }

  #release(port: SerialPort): boolean {
    if (this.#port !== port) return false;
    this.#port = undefined;
    if (this.#key !== undefined) releaseDevice(this.#key);
    this.#key = undefined;
    return true;
  }

  #lost(port: SerialPort, error: TerminalError): void {
    if (!this.#release(port)) return;
    if (port.isOpen) port.close(() => undefined);
    this.#listeners.closed(error);
  }

  async close(): Promise<void> {
    const port = this.#port;
    if (port === undefined) return;
    this.#release(port);
    port.removeAllListeners('data');
    await new Promise<void>((resolve) => {
      if (!port.isOpen) resolve();
      else port.close(() => resolve());
    });
    this.#listeners.closed(null);
  }

  async write(bytes: Uint8Array): Promise<void> {
    const port = this.#port;
    if (port === undefined) throw new TerminalError('TERM_ERR_LINK_CLOSED', this.path, { path: this.path });
    const binding = this.#binding;
    if (binding !== undefined) return this.#writeFd(port, binding, bytes);
    await new Promise<void>((resolve, reject) => {
      port.write(Buffer.from(bytes), (e) => {
        if (e) {
          if (this.#port !== port) {
            reject(new TerminalError('TERM_ERR_LINK_CLOSED', this.path, { path: this.path }, { cause: e }));
            return;
          }
          // [reader-link §11.5] a failed write is how an unplugged adapter shows: the link is lost.
          const err = new TerminalError('TERM_ERR_LINK_IO', `${this.path}: ${e.message}`, { path: this.path }, { cause: e });
          setImmediate(() => this.#lost(port, err));
          reject(err);
          return;
        }
        port.drain((d) => {
          if (this.#port !== port) reject(new TerminalError('TERM_ERR_LINK_CLOSED', this.path, { path: this.path }));
          else if (d) reject(new TerminalError('TERM_ERR_LINK_IO', `${this.path}: ${d.message}`, { path: this.path }, { cause: d }));
          else resolve();
        });
      });
    });
  }

  /**
   * Non-blocking write on the descriptor (EAGAIN waits for the poller), then the binding's
   * drain (tcdrain) so that the promise keeps the "drained" meaning of the contract.
   */
  async #writeFd(port: SerialPort, binding: FdBinding, bytes: Uint8Array): Promise<void> {
    const closed = (cause?: unknown): TerminalError => new TerminalError('TERM_ERR_LINK_CLOSED', this.path, { path: this.path }, cause === undefined ? undefined : { cause });
    let off = 0;
    while (off < bytes.length) {
      if (this.#port !== port || binding.fd === null) throw closed();
      try {
        off += fs.writeSync(binding.fd, bytes, off, bytes.length - off);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (isRetry(err)) {
          const waited = await new Promise<Error | null | undefined>((r) => binding.poller!.once('writable', r));
          if (waited && this.#port !== port) throw closed(waited);
          continue;
        }
        if (this.#port !== port) throw closed(e);
        // [reader-link §11.5] a failed write is how an unplugged adapter shows: the link is lost.
        const lost = new TerminalError('TERM_ERR_LINK_IO', `${this.path}: ${err.message}`, { path: this.path }, { cause: e });
        setImmediate(() => this.#lost(port, lost));
        throw lost;
      }
    }
    try {
      await binding.drain();
    } catch (e) {
      if (this.#port !== port) throw closed(e);
      throw new TerminalError('TERM_ERR_LINK_IO', `${this.path}: ${(e as Error).message}`, { path: this.path }, { cause: e });
    }
    if (this.#port !== port) throw closed();
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    return this.#listeners.onData(listener);
  }

  onClose(listener: (error: TerminalError | null) => void): () => void {
    return this.#listeners.onClose(listener);
  }
}

/** Creates a (closed) serial transport for `path`. Never throws; `open()` reports failures. */
export function createSerialTransport(opts: SerialTransportOptions): ReaderTransport {
  return new SerialTransport(opts);
}

/** One serial port as the OS lists it. */
export interface SerialPortInfo {
  readonly path: string;
  readonly manufacturer?: string;
  readonly vendorId?: string;
  readonly productId?: string;
  readonly serialNumber?: string;
}

/**
 * Lists the serial ports of the machine (for `onecard-terminal readers`).
 * @throws TerminalError `TERM_ERR_LINK_IO` when the OS listing fails.
 */
export async function listSerialPorts(): Promise<SerialPortInfo[]> {
  try {
    const ports = await SerialPort.list();
    return ports.map((p) => ({
      path: p.path,
      ...(p.manufacturer === undefined ? {} : { manufacturer: p.manufacturer }),
      ...(p.vendorId === undefined ? {} : { vendorId: p.vendorId }),
      ...(p.productId === undefined ? {} : { productId: p.productId }),
      ...(p.serialNumber === undefined ? {} : { serialNumber: p.serialNumber }),
    }));
  } catch (e) {
    throw new TerminalError('TERM_ERR_LINK_IO', 'cannot list serial ports', {}, { cause: e });
  }
}
