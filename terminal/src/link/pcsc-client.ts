/**
 * A client of pcscd's own socket protocol (pcsc-lite message protocol 4.4), in TypeScript over a
 * unix socket: no native binding, so installing OneCard never needs libpcsclite's headers. The
 * message codec is `@onecard/protocol/pcsc`; this file only moves its bytes. Like libpcsclite,
 * each {@link PcscConnection} is one socket holding one PC/SC context (the daemon ties card
 * handles to the socket that made them), with requests answered strictly in order. The
 * {@link watchPcscReaders} watcher uses a socket of its own to follow the daemon's reader-state
 * table (readers appearing and disappearing, cards inserted and removed) without polling.
 */
import * as net from 'node:net';
import {
  PCSC_PROTOCOL_VERSION, PcscResponseReader, SCARD, SCARD_RV, encodeRequest, scardRvName,
  type PcscReaderState, type PcscRequest, type PcscResponse, type PcscResponseKind,
} from '@onecard/protocol/pcsc';
import { TerminalError, type TerminalErrorCode } from '../errors.ts';

/** pcscd's socket when the daemon is started without a changed ipcdir. */
export const PCSCD_SOCKET = '/run/pcscd/pcscd.comm';

/** Options shared by the client functions. */
export interface PcscClientOptions {
  /** Default {@link PCSCD_SOCKET}. */
  readonly socketPath?: string;
  /** Connecting and the version handshake must finish in this time (default 3000 ms). */
  readonly connectTimeoutMs?: number;
}

/** Maps a PC/SC return value to the terminal's codes. */
function rvCode(rv: number): TerminalErrorCode {
  switch (rv >>> 0) {
    case SCARD_RV.E_NO_SMARTCARD: return 'TERM_ERR_NO_CARD';
    case SCARD_RV.W_REMOVED_CARD: return 'TERM_ERR_CARD_REMOVED';
    case SCARD_RV.W_RESET_CARD: return 'TERM_ERR_CARD_RESET';
    case SCARD_RV.W_UNRESPONSIVE_CARD:
    case SCARD_RV.W_UNPOWERED_CARD: return 'TERM_ERR_CARD_MUTE';
    case SCARD_RV.W_UNSUPPORTED_CARD:
    case SCARD_RV.E_PROTO_MISMATCH: return 'TERM_ERR_CARD_PROTOCOL';
    case SCARD_RV.E_SHARING_VIOLATION: return 'TERM_ERR_LINK_BUSY';
    case SCARD_RV.E_UNKNOWN_READER:
    case SCARD_RV.E_READER_UNAVAILABLE: return 'TERM_ERR_LINK_CLOSED';
    case SCARD_RV.E_NO_SERVICE:
    case SCARD_RV.E_SERVICE_STOPPED: return 'TERM_ERR_LINK_PCSC_UNAVAILABLE';
    default: return 'TERM_ERR_LINK_PCSC_FAILED';
  }
}

/** A coded error for a failed PC/SC call (`details.rv` names the PC/SC return value). */
export function pcscError(call: string, rv: number, details: Record<string, string | number> = {}): TerminalError {
  const name = scardRvName(rv);
  return new TerminalError(rvCode(rv), `${call}: ${name}`, { ...details, rv: name });
}

/** One socket to pcscd: requests in order, answers decoded as they complete. */
class Socket {
  readonly #sock: net.Socket;
  readonly #reader = new PcscResponseReader();
  readonly #waiting: Array<{ resolve: (r: PcscResponse) => void; reject: (e: TerminalError) => void }> = [];
  readonly #closeListeners = new Set<(e: TerminalError) => void>();
  #closed: TerminalError | undefined;
  readonly path: string;

  constructor(sock: net.Socket, path: string) {
    this.#sock = sock;
    this.path = path;
    sock.on('data', (chunk: Buffer) => {
      let answers: PcscResponse[];
      try {
        answers = this.#reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      } catch (e) {
        this.#fail(new TerminalError('TERM_ERR_LINK_FRAME', `pcscd: ${(e as Error).message}`, { path }, { cause: e }));
        return;
      }
      for (const a of answers) this.#waiting.shift()?.resolve(a);
    });
    sock.on('error', (e) => this.#fail(new TerminalError('TERM_ERR_LINK_IO', `pcscd socket: ${e.message}`, { path }, { cause: e })));
    sock.on('close', () => this.#fail(new TerminalError('TERM_ERR_LINK_CLOSED', 'pcscd closed the connection', { path })));
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  #fail(e: TerminalError): void {
    if (this.#closed !== undefined) return;
    this.#closed = e;
    this.#sock.destroy();
    for (const w of this.#waiting.splice(0)) w.reject(e);
    for (const l of [...this.#closeListeners]) l(e);
  }

  onClose(l: (e: TerminalError) => void): () => void {
    this.#closeListeners.add(l);
    return () => this.#closeListeners.delete(l);
  }

  /** Sends `request` (when given) and resolves with the next answer of kind `kind`. */
  exchange(request: PcscRequest | undefined, kind: PcscResponseKind): Promise<PcscResponse> {
    if (this.#closed !== undefined) return Promise.reject(new TerminalError('TERM_ERR_LINK_CLOSED', this.#closed.message, { path: this.path }));
    return new Promise((resolve, reject) => {
      this.#reader.expect(kind);
      this.#waiting.push({ resolve, reject });
      if (request !== undefined) this.#sock.write(encodeRequest(request));
    });
  }

  close(): void {
    this.#fail(new TerminalError('TERM_ERR_LINK_CLOSED', 'closed', { path: this.path }));
  }
}

/** Connects and negotiates the protocol version [winscard_svc.c CMD_VERSION]. */
async function openSocket(o: PcscClientOptions): Promise<Socket> {
  const path = o.socketPath ?? PCSCD_SOCKET;
  const timeoutMs = o.connectTimeoutMs ?? 3000;
  const sock = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.createConnection({ path });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new TerminalError('TERM_ERR_LINK_PCSC_UNAVAILABLE', `${path}: no answer in ${timeoutMs} ms`, { path }));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new TerminalError('TERM_ERR_LINK_PCSC_UNAVAILABLE', `${path}: ${e.code ?? e.message} (is pcscd running?)`, { path, errno: e.code ?? '' }, { cause: e }));
    });
  });
  const s = new Socket(sock, path);
  let timer: NodeJS.Timeout | undefined;
  try {
    const v = await Promise.race([
      s.exchange({ command: 'version', ...PCSC_PROTOCOL_VERSION }, 'version'),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TerminalError('TERM_ERR_LINK_PCSC_UNAVAILABLE', `${path}: no version answer in ${timeoutMs} ms`, { path })), timeoutMs);
      }),
    ]);
    if (v.kind !== 'version') throw new TerminalError('TERM_ERR_LINK_FRAME', 'version answer expected', { path });
    // [winscard_svc.c CMD_VERSION] a daemon that cannot speak our version answers with its own and rv ≠ 0.
    if (v.rv !== SCARD_RV.S_SUCCESS) {
      throw new TerminalError('TERM_ERR_LINK_PCSC_VERSION', `pcscd speaks ${v.major}.${v.minor}, OneCard ${PCSC_PROTOCOL_VERSION.major}.${PCSC_PROTOCOL_VERSION.minor}`, { path, major: v.major, minor: v.minor });
    }
    return s;
  } catch (e) {
    s.close();
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** The PC/SC reader names follow `NAME NN SS`: reader number and slot, two hex digits each [readerfactory.c RFAddReader]. */
const SUFFIX = / ([0-9A-F]{2}) ([0-9A-F]{2})$/;

/** The slot index from a PC/SC reader name (`… 00 01` → 1), 0 when the name has no such suffix. */
export function pcscSlotOf(name: string): number {
  const m = SUFFIX.exec(name);
  return m === null ? 0 : parseInt(m[2]!, 16);
}

/**
 * True when the PC/SC reader `name` is selected by the configured `pattern`: the exact name, the
 * name without its ` NN SS` suffix, or a glob (`*` any run, `?` one character) matching either.
 */
export function pcscNameMatches(pattern: string, name: string): boolean {
  const base = name.replace(SUFFIX, '');
  if (!/[*?]/.test(pattern)) return name === pattern || base === pattern;
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
  return re.test(name) || re.test(base);
}

/** An open card handle. */
export interface PcscCard {
  readonly handle: number;
  /** 0 or 1. */
  readonly protocol: 0 | 1;
}

/**
 * One socket, one PC/SC context. Every method rejects with a `TerminalError`: PC/SC return values
 * map to `TERM_ERR_NO_CARD`, `TERM_ERR_CARD_REMOVED`, `TERM_ERR_CARD_RESET`, `TERM_ERR_CARD_MUTE`,
 * `TERM_ERR_CARD_PROTOCOL`, `TERM_ERR_LINK_BUSY` (sharing violation), `TERM_ERR_LINK_CLOSED`
 * (reader gone, socket closed), `TERM_ERR_LINK_PCSC_FAILED` (others, `details.rv` named).
 */
export interface PcscConnection {
  readonly context: number;
  readonly closed: boolean;
  readerStates(): Promise<readonly PcscReaderState[]>;
  /** SCardConnect in shared mode, T=0 or T=1 as the card offers. */
  connect(reader: string): Promise<PcscCard>;
  /** SCardReconnect: `reset` resets the card (warm reset), otherwise the handle is re-validated. */
  reconnect(card: PcscCard, reset: boolean): Promise<PcscCard>;
  /** SCardStatus: resolves while the handle's card is still the same, powered card. */
  status(card: PcscCard): Promise<void>;
  beginTransaction(card: PcscCard): Promise<void>;
  endTransaction(card: PcscCard): Promise<void>;
  transmit(card: PcscCard, apdu: Uint8Array): Promise<Uint8Array>;
  disconnect(card: PcscCard, reset?: boolean): Promise<void>;
  /** Releases the context and closes the socket; never rejects. */
  close(): Promise<void>;
  onClose(listener: (error: TerminalError) => void): () => void;
}

const protocolOf = (active: number): 0 | 1 | undefined => (active === SCARD.PROTOCOL_T0 ? 0 : active === SCARD.PROTOCOL_T1 ? 1 : undefined);

class Connection implements PcscConnection {
  readonly context: number;
  readonly #s: Socket;

  constructor(s: Socket, context: number) {
    this.#s = s;
    this.context = context;
  }

  get closed(): boolean {
    return this.#s.closed;
  }

  async #call<K extends PcscResponseKind>(req: PcscRequest, kind: K): Promise<Extract<PcscResponse, { kind: K }>> {
    return (await this.#s.exchange(req, kind)) as Extract<PcscResponse, { kind: K }>;
  }

  async readerStates(): Promise<readonly PcscReaderState[]> {
    return (await this.#call({ command: 'get-readers-state' }, 'readers-state')).readers;
  }

  async connect(reader: string): Promise<PcscCard> {
    const r = await this.#call({ command: 'connect', context: this.context, reader, shareMode: SCARD.SHARE_SHARED, preferredProtocols: SCARD.PROTOCOL_ANY }, 'connect');
    if (r.rv !== SCARD_RV.S_SUCCESS) throw pcscError('SCardConnect', r.rv, { reader });
    const protocol = protocolOf(r.activeProtocol);
    if (protocol === undefined) {
      await this.disconnect({ handle: r.card, protocol: 0 }).catch(() => undefined);
      throw new TerminalError('TERM_ERR_CARD_PROTOCOL', `protocol ${r.activeProtocol} not supported`, { reader });
    }
    return { handle: r.card, protocol };
  }

  async reconnect(card: PcscCard, reset: boolean): Promise<PcscCard> {
    const r = await this.#call({ command: 'reconnect', card: card.handle, shareMode: SCARD.SHARE_SHARED, preferredProtocols: SCARD.PROTOCOL_ANY, initialization: reset ? SCARD.RESET_CARD : SCARD.LEAVE_CARD }, 'reconnect');
    if (r.rv !== SCARD_RV.S_SUCCESS) throw pcscError('SCardReconnect', r.rv);
    const protocol = protocolOf(r.activeProtocol);
    if (protocol === undefined) throw new TerminalError('TERM_ERR_CARD_PROTOCOL', `protocol ${r.activeProtocol} not supported`);
    return { handle: card.handle, protocol };
  }

  async status(card: PcscCard): Promise<void> {
    const r = await this.#call({ command: 'status', card: card.handle }, 'status');
    if (r.rv !== SCARD_RV.S_SUCCESS) throw pcscError('SCardStatus', r.rv);
  }

  async beginTransaction(card: PcscCard): Promise<void> {
    const r = await this.#call({ command: 'begin-transaction', card: card.handle }, 'begin-transaction');
    if (r.rv !== SCARD_RV.S_SUCCESS) throw pcscError('SCardBeginTransaction', r.rv);
  }

  async endTransaction(card: PcscCard): Promise<void> {
    const r = await this.#call({ command: 'end-transaction', card: card.handle, disposition: SCARD.LEAVE_CARD }, 'end-transaction');
    if (r.rv !== SCARD_RV.S_SUCCESS) throw pcscError('SCardEndTransaction', r.rv);
  }

  async transmit(card: PcscCard, apdu: Uint8Array): Promise<Uint8Array> {
    const r = await this.#call({ command: 'transmit', card: card.handle, protocol: card.protocol === 0 ? SCARD.PROTOCOL_T0 : SCARD.PROTOCOL_T1, apdu, receiveLength: 65548 }, 'transmit');
    if (r.rv !== SCARD_RV.S_SUCCESS) throw pcscError('SCardTransmit', r.rv);
    if (r.apdu.length < 2) throw new TerminalError('TERM_ERR_CARD_PROTOCOL', 'response without status word');
    return r.apdu;
  }

  async disconnect(card: PcscCard, reset = false): Promise<void> {
    const r = await this.#call({ command: 'disconnect', card: card.handle, disposition: reset ? SCARD.RESET_CARD : SCARD.LEAVE_CARD }, 'disconnect');
    if (r.rv !== SCARD_RV.S_SUCCESS) throw pcscError('SCardDisconnect', r.rv);
  }

  async close(): Promise<void> {
    if (!this.#s.closed) {
      await Promise.race([
        this.#call({ command: 'release-context', context: this.context }, 'release-context').catch(() => undefined),
        new Promise((r) => setTimeout(r, 1000).unref()),
      ]);
    }
    this.#s.close();
  }

  onClose(listener: (error: TerminalError) => void): () => void {
    return this.#s.onClose(listener);
  }
}

/**
 * Connects to pcscd, negotiates the protocol version and establishes a context.
 * @throws TerminalError `TERM_ERR_LINK_PCSC_UNAVAILABLE` (no daemon on the socket),
 *   `TERM_ERR_LINK_PCSC_VERSION` (the daemon speaks another protocol), `TERM_ERR_LINK_PCSC_FAILED`.
 */
export async function openPcscConnection(o: PcscClientOptions = {}): Promise<PcscConnection> {
  const s = await openSocket(o);
  try {
    const r = (await s.exchange({ command: 'establish-context', scope: SCARD.SCOPE_SYSTEM }, 'establish-context')) as Extract<PcscResponse, { kind: 'establish-context' }>;
    if (r.rv !== SCARD_RV.S_SUCCESS) throw pcscError('SCardEstablishContext', r.rv);
    return new Connection(s, r.context);
  } catch (e) {
    s.close();
    throw e;
  }
}

/**
 * Lists the daemon's readers (one socket, no context).
 * @throws TerminalError `TERM_ERR_LINK_PCSC_UNAVAILABLE`, `TERM_ERR_LINK_PCSC_VERSION`, link codes.
 */
export async function listPcscReaders(o: PcscClientOptions = {}): Promise<readonly PcscReaderState[]> {
  const s = await openSocket(o);
  try {
    return ((await s.exchange({ command: 'get-readers-state' }, 'readers-state')) as Extract<PcscResponse, { kind: 'readers-state' }>).readers;
  } finally {
    s.close();
  }
}

/** A running reader-state watcher. */
export interface PcscWatcher {
  close(): void;
}

/**
 * Follows the daemon's reader-state table: `onStates` runs with the whole table at start and
 * after every change the daemon signals [winscard_svc.c CMD_WAIT_READER_STATE_CHANGE: register,
 * table dump, then one signal per change]. `onEnd` runs once when the socket closes (daemon
 * stopped) with the error; not after `close()`.
 * @throws TerminalError as {@link openPcscConnection} when the daemon cannot be reached.
 */
export async function watchPcscReaders(o: PcscClientOptions, onStates: (readers: readonly PcscReaderState[]) => void, onEnd: (error: TerminalError) => void): Promise<PcscWatcher> {
  const s = await openSocket(o);
  let stopped = false;
  s.onClose((e) => {
    if (!stopped) onEnd(e);
  });
  const loop = async (): Promise<void> => {
    while (!stopped) {
      const table = (await s.exchange({ command: 'wait-reader-state-change' }, 'readers-state')) as Extract<PcscResponse, { kind: 'readers-state' }>;
      if (stopped) return;
      onStates(table.readers);
      await s.exchange(undefined, 'wait-end');
    }
  };
  loop().catch(() => undefined); // a closed socket ends the loop; onEnd reports it
  return {
    close(): void {
      stopped = true;
      s.close();
    },
  };
}
