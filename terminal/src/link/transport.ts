/**
 * The reader transport seam: the one interface every byte between the terminal and a card reader
 * goes through (serial port, HID device, in-memory pipe). It is deliberately small — open, close,
 * write, data and close notifications — so that the CCID drivers above it never know which link
 * they run on, and so that one conformance suite (test/link/conformance.ts) can hold every
 * implementation to the same behaviour.
 */
import { TerminalError } from '../errors.ts';

/**
 * A byte or report link to one reader.
 *
 * Contract (checked by the conformance suite):
 * - **Exclusive open.** `open()` fails with `TERM_ERR_LINK_BUSY` while another transport of this
 *   process (or, where the OS can tell, another process) holds the same device. `open()` on an
 *   open transport fails with `TERM_ERR_LINK_BUSY` too. Failing to open is `TERM_ERR_LINK_OPEN`.
 * - **Chunks.** Serial and memory links deliver the byte stream in chunks of any size (a frame
 *   may arrive split, several frames may arrive in one chunk). A HID link delivers exactly one
 *   input report per chunk. Data arriving before a listener is attached is dropped.
 * - **Writes.** `write()` resolves once the bytes have been handed to the OS (serial: drained).
 *   On a HID link one write is one output report. Writing while closed rejects with
 *   `TERM_ERR_LINK_CLOSED`; an OS failure rejects with `TERM_ERR_LINK_IO`.
 * - **Cancel on close.** `close()` resolves when the device is released; writes still pending
 *   reject with `TERM_ERR_LINK_CLOSED`, no data is delivered afterwards, and the close listeners
 *   run once with `null`. Closing a closed transport is a no-op.
 * - **Loss.** When the device goes away (unplug, I/O error) the transport closes itself and the
 *   close listeners run once with a `TerminalError` (`TERM_ERR_LINK_CLOSED` or `TERM_ERR_LINK_IO`).
 * - A closed transport can be opened again (reconnection after unplug).
 */
export interface ReaderTransport {
  /** Link family. */
  readonly kind: 'serial' | 'hid' | 'memory';
  /** Device path (serial port, hidraw path, or a memory name). */
  readonly path: string;
  readonly isOpen: boolean;
  open(): Promise<void>;
  close(): Promise<void>;
  write(bytes: Uint8Array): Promise<void>;
  /** Adds a data listener; returns a function that removes it. */
  onData(listener: (chunk: Uint8Array) => void): () => void;
  /** Adds a close listener (`null` after `close()`, the error on loss); returns its remover. */
  onClose(listener: (error: TerminalError | null) => void): () => void;
}

/** Creates transports from reader configuration; injected into the reader manager. */
export type TransportFactory = (link: { readonly link: 'serial' | 'hid' | 'memory'; readonly path: string }) => ReaderTransport;

/**
 * Process-wide registry of held devices, so that exclusivity holds within the process even where
 * the OS lock does not (a root process ignores TIOCEXCL; pseudo-terminals have no flock owner).
 */
const held = new Set<string>();

/** @internal Claims `key` for exclusive use. @throws TerminalError `TERM_ERR_LINK_BUSY`. */
export function claimDevice(key: string): void {
  if (held.has(key)) throw new TerminalError('TERM_ERR_LINK_BUSY', key, { path: key });
  held.add(key);
}

/** @internal Releases a claim made by {@link claimDevice}. */
export function releaseDevice(key: string): void {
  held.delete(key);
}

/**
 * Listener bookkeeping shared by the implementations: data and close listeners, with the close
 * notification delivered exactly once per open.
 * @internal
 */
export class TransportListeners {
  readonly #data = new Set<(chunk: Uint8Array) => void>();
  readonly #close = new Set<(error: TerminalError | null) => void>();

  onData(listener: (chunk: Uint8Array) => void): () => void {
    this.#data.add(listener);
    return () => this.#data.delete(listener);
  }

  onClose(listener: (error: TerminalError | null) => void): () => void {
    this.#close.add(listener);
    return () => this.#close.delete(listener);
  }

  data(chunk: Uint8Array): void {
    for (const l of [...this.#data]) l(chunk);
  }

  closed(error: TerminalError | null): void {
    for (const l of [...this.#close]) l(error);
  }
}
