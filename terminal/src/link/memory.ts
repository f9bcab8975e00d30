/**
 * In-memory reader transport: two connected ends of a pipe, for tests of the drivers above the
 * transport. It reproduces the quirks of a real serial line that drivers must survive: writes
 * arrive asynchronously and split into chunks of random sizes (or coalesced), exclusive open,
 * pending writes cancelled on close, and loss of the link ("unplug") reported to both ends.
 */
import { TerminalError } from '../errors.ts';
import { TransportListeners, type ReaderTransport } from './transport.ts';

/** Options of {@link createMemoryLink}. */
export interface MemoryLinkOptions {
  /** Largest chunk delivered at once (default 7: frames always arrive in pieces). 0 = whole writes. */
  readonly maxChunk?: number;
  /** Seed of the chunk-size generator, so a test run is repeatable. */
  readonly seed?: number;
}

/** The two ends of an in-memory link, plus the fault the test can inject. */
export interface MemoryLink {
  /** The terminal's end. */
  readonly host: ReaderTransport;
  /** The reader's end (driven by a test or a simulator). */
  readonly device: ReaderTransport;
  /** The link goes away: both open ends close with `TERM_ERR_LINK_CLOSED`; opening fails until {@link replug}. */
  unplug(): void;
  /** The link can be opened again. */
  replug(): void;
}

class MemoryEnd implements ReaderTransport {
  readonly kind = 'memory' as const;
  readonly path: string;
  readonly #link: LinkState;
  readonly #listeners = new TransportListeners();
  #open = false;
  /** Incremented at every open and close: bytes in flight never cross into another session. */
  epoch = 0;
  peer: MemoryEnd | undefined;

  constructor(path: string, link: LinkState) {
    this.path = path;
    this.#link = link;
  }

  get isOpen(): boolean {
    return this.#open;
  }

  async open(): Promise<void> {
    if (this.#open) throw new TerminalError('TERM_ERR_LINK_BUSY', this.path, { path: this.path });
    if (this.#link.unplugged) throw new TerminalError('TERM_ERR_LINK_OPEN', `${this.path}: no such device`, { path: this.path });
    this.#open = true;
    this.epoch++;
  }

  async close(): Promise<void> {
    this.shut(null);
  }

  shut(error: TerminalError | null): void {
    if (!this.#open) return;
    this.#open = false;
    this.epoch++;
    this.#listeners.closed(error);
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (!this.#open) throw new TerminalError('TERM_ERR_LINK_CLOSED', this.path, { path: this.path });
    const copy = bytes.slice();
    const epoch = this.epoch;
    // Delivery is asynchronous and fragmented, like reads from a real tty.
    await new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        if (!this.#open || epoch !== this.epoch) {
          reject(new TerminalError('TERM_ERR_LINK_CLOSED', this.path, { path: this.path }));
          return;
        }
        const peer = this.peer;
        if (peer !== undefined && peer.isOpen) {
          const peerEpoch = peer.epoch;
          for (const chunk of this.#link.split(copy)) this.#link.queue.push(() => peer.deliver(chunk, peerEpoch));
          this.#link.pump();
        }
        resolve();
      });
    });
  }

  deliver(chunk: Uint8Array, epoch: number): void {
    if (this.#open && epoch === this.epoch) this.#listeners.data(chunk);
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    return this.#listeners.onData(listener);
  }

  onClose(listener: (error: TerminalError | null) => void): () => void {
    return this.#listeners.onClose(listener);
  }
}

class LinkState {
  unplugged = false;
  readonly queue: Array<() => void> = [];
  #pumping = false;
  #rand: number;
  readonly #maxChunk: number;

  constructor(opts: MemoryLinkOptions) {
    this.#rand = (opts.seed ?? 1) >>> 0 || 1;
    this.#maxChunk = opts.maxChunk ?? 7;
  }

  #next(): number {
    // xorshift32: deterministic chunk sizes
    let x = this.#rand;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#rand = x >>> 0;
    return this.#rand;
  }

  split(bytes: Uint8Array): Uint8Array[] {
    if (this.#maxChunk <= 0) return [bytes];
    const out: Uint8Array[] = [];
    let o = 0;
    while (o < bytes.length) {
      const n = 1 + (this.#next() % this.#maxChunk);
      out.push(bytes.subarray(o, Math.min(bytes.length, o + n)));
      o += n;
    }
    return out;
  }

  /** Delivers queued chunks one per macrotask turn, in order. */
  pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    const tick = (): void => {
      const f = this.queue.shift();
      if (f === undefined) {
        this.#pumping = false;
        return;
      }
      f();
      setImmediate(tick);
    };
    setImmediate(tick);
  }
}

/**
 * Creates a connected pair of in-memory transports. Never throws.
 */
export function createMemoryLink(name = 'memory', opts: MemoryLinkOptions = {}): MemoryLink {
  const state = new LinkState(opts);
  const host = new MemoryEnd(`${name}#host`, state);
  const device = new MemoryEnd(`${name}#device`, state);
  host.peer = device;
  device.peer = host;
  return {
    host,
    device,
    unplug(): void {
      state.unplugged = true;
      state.queue.length = 0;
      for (const end of [host, device]) end.shut(new TerminalError('TERM_ERR_LINK_CLOSED', `${end.path}: unplugged`, { path: end.path }));
    },
    replug(): void {
      state.unplugged = false;
    },
  };
}
