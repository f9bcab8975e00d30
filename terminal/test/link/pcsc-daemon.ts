/**
 * An in-process stand-in for pcscd, for the link's tap tests: it speaks the daemon's side of the
 * socket protocol (through the same codec, `@onecard/protocol/pcsc`) on a unix socket in a
 * temporary directory, over simulated cards at APDU level. It keeps what the client depends on —
 * strict version check, per-socket contexts and handles, the reader-state table with event
 * counters, the wait/signal cycle, W_REMOVED_CARD on a handle whose card left, readers appearing
 * and disappearing, stopping with clients connected — and nothing else. The real daemon is
 * exercised by .ci/suites/pcsc-link.sh.
 */
import * as net from 'node:net';
import { PCSC_LIMITS, SCARD, SCARD_RV, decodeRequest, encodeResponse, type PcscReaderState, type PcscRequest, type PcscResponse } from '@onecard/protocol/pcsc';
import { atrOffersT1, type ReaderCard } from '@onecard/simulators';

interface Reader {
  index: number;
  name: string;
  card: ReaderCard | undefined;
  atr: Uint8Array;
  counter: number;
}

interface Client {
  sock: net.Socket;
  buf: Uint8Array;
  waiting: boolean;
  handles: Map<number, { reader: Reader; counter: number; protocol: number }>;
}

export class FakePcscd {
  readonly path: string;
  readonly #readers: Reader[] = [];
  readonly #clients = new Set<Client>();
  #server: net.Server | undefined;
  #next = 1;
  /** Protocol version this daemon insists on. */
  version = { major: 4, minor: 4 };
  /** Every request received (command names), for assertions. */
  readonly log: string[] = [];

  constructor(path: string) {
    this.path = path;
  }

  async start(): Promise<void> {
    const server = net.createServer((sock) => this.#accept(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => resolve());
    });
    this.#server = server;
  }

  /** Stops listening and drops every client (pcscd stopped). */
  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    for (const c of this.#clients) c.sock.destroy();
    this.#clients.clear();
    if (s !== undefined) await new Promise<void>((r) => s.close(() => r()));
  }

  addReader(name: string, card?: ReaderCard): void {
    const used = new Set(this.#readers.map((r) => r.index));
    let index = 0;
    while (used.has(index)) index++;
    const r: Reader = { index, name, card: undefined, atr: new Uint8Array(0), counter: 0 };
    this.#readers.push(r);
    if (card !== undefined) this.#put(r, card);
    this.#signal();
  }

  removeReader(name: string): void {
    const i = this.#readers.findIndex((r) => r.name === name);
    if (i >= 0) this.#readers.splice(i, 1);
    this.#signal();
  }

  insert(name: string, card: ReaderCard): void {
    this.#put(this.#reader(name), card);
    this.#signal();
  }

  remove(name: string): void {
    const r = this.#reader(name);
    if (r.card !== undefined) {
      r.card = undefined;
      r.atr = new Uint8Array(0);
      r.counter++;
    }
    this.#signal();
  }

  /** Card out and a card in between two signals (the client sees only the counter move). */
  swap(name: string, card: ReaderCard): void {
    const r = this.#reader(name);
    r.counter++;
    this.#put(r, card);
    this.#signal();
  }

  #reader(name: string): Reader {
    const r = this.#readers.find((x) => x.name === name);
    if (r === undefined) throw new Error(`no reader ${name}`);
    return r;
  }

  #put(r: Reader, card: ReaderCard): void {
    r.card = card;
    r.atr = card.reset();
    r.counter++;
  }

  #table(): PcscReaderState[] {
    return this.#readers.map((r) => ({
      index: r.index, name: r.name, eventCounter: r.counter,
      state: r.card === undefined ? SCARD.ABSENT : SCARD.PRESENT | SCARD.POWERED | SCARD.NEGOTIABLE,
      sharing: 0, atr: r.atr, protocol: 0,
    }));
  }

  #send(c: Client, r: PcscResponse): void {
    c.sock.write(encodeResponse(r));
  }

  #signal(): void {
    for (const c of this.#clients) {
      if (!c.waiting) continue;
      c.waiting = false;
      this.#send(c, { kind: 'wait-end', rv: SCARD_RV.S_SUCCESS });
    }
  }

  #accept(sock: net.Socket): void {
    const c: Client = { sock, buf: new Uint8Array(0), waiting: false, handles: new Map() };
    this.#clients.add(c);
    sock.on('close', () => this.#clients.delete(c));
    sock.on('error', () => undefined);
    sock.on('data', (chunk: Buffer) => {
      const b = new Uint8Array(c.buf.length + chunk.length);
      b.set(c.buf);
      b.set(chunk, c.buf.length);
      c.buf = b;
      for (;;) {
        let d;
        try {
          d = decodeRequest(c.buf);
        } catch {
          sock.destroy(); // pcscd drops a client that sends garbage
          return;
        }
        if (d === undefined) return;
        c.buf = c.buf.subarray(d.length);
        this.log.push(d.request.command);
        this.#handle(c, d.request);
      }
    });
  }

  #handle(c: Client, q: PcscRequest): void {
    const handle = (h: number): { reader: Reader; counter: number; protocol: number } | number => {
      const e = c.handles.get(h);
      if (e === undefined) return SCARD_RV.E_INVALID_HANDLE;
      if (!this.#readers.includes(e.reader)) return SCARD_RV.E_READER_UNAVAILABLE;
      if (e.reader.counter !== e.counter || e.reader.card === undefined) return SCARD_RV.W_REMOVED_CARD;
      return e;
    };
    const rvOf = (h: ReturnType<typeof handle>): number => (typeof h === 'number' ? h : SCARD_RV.S_SUCCESS);
    switch (q.command) {
      case 'version': {
        const ok = q.major === this.version.major && q.minor === this.version.minor;
        this.#send(c, { kind: 'version', ...this.version, rv: ok ? 0 : SCARD_RV.E_SERVICE_STOPPED });
        return;
      }
      case 'establish-context': this.#send(c, { kind: 'establish-context', scope: q.scope, context: this.#next++, rv: 0 }); return;
      case 'release-context': this.#send(c, { kind: 'release-context', context: q.context, rv: 0 }); return;
      case 'get-readers-state': this.#send(c, { kind: 'readers-state', readers: this.#table() }); return;
      case 'wait-reader-state-change':
        c.waiting = true;
        this.#send(c, { kind: 'readers-state', readers: this.#table() });
        return;
      case 'stop-waiting-reader-state-change':
        if (c.waiting) this.#send(c, { kind: 'wait-end', rv: 0 });
        c.waiting = false;
        return;
      case 'connect': {
        const r = this.#readers.find((x) => x.name === q.reader);
        const base = { kind: 'connect', context: q.context, reader: q.reader, shareMode: q.shareMode, preferredProtocols: q.preferredProtocols } as const;
        if (r === undefined) return this.#send(c, { ...base, card: 0, activeProtocol: 0, rv: SCARD_RV.E_UNKNOWN_READER });
        if (r.card === undefined) return this.#send(c, { ...base, card: 0, activeProtocol: 0, rv: SCARD_RV.E_NO_SMARTCARD });
        const protocol = atrOffersT1(r.atr) ? SCARD.PROTOCOL_T1 : SCARD.PROTOCOL_T0;
        const h = this.#next++;
        c.handles.set(h, { reader: r, counter: r.counter, protocol });
        return this.#send(c, { ...base, card: h, activeProtocol: protocol, rv: 0 });
      }
      case 'reconnect': {
        const h = handle(q.card);
        if (typeof h !== 'number' && q.initialization === SCARD.RESET_CARD) h.reader.atr = h.reader.card!.reset();
        return this.#send(c, { kind: 'reconnect', card: q.card, shareMode: q.shareMode, preferredProtocols: q.preferredProtocols, initialization: q.initialization, activeProtocol: typeof h === 'number' ? 0 : h.protocol, rv: rvOf(h) });
      }
      case 'disconnect': {
        const known = c.handles.delete(q.card);
        return this.#send(c, { kind: 'disconnect', card: q.card, disposition: q.disposition, rv: known ? 0 : SCARD_RV.E_INVALID_HANDLE });
      }
      case 'begin-transaction': return this.#send(c, { kind: 'begin-transaction', card: q.card, rv: rvOf(handle(q.card)) });
      case 'end-transaction': return this.#send(c, { kind: 'end-transaction', card: q.card, disposition: q.disposition, rv: rvOf(handle(q.card)) });
      case 'status': return this.#send(c, { kind: 'status', card: q.card, rv: rvOf(handle(q.card)) });
      case 'cancel': return this.#send(c, { kind: 'cancel', context: q.context, rv: 0 });
      case 'transmit': {
        const h = handle(q.card);
        if (typeof h === 'number') return this.#send(c, { kind: 'transmit', card: q.card, protocol: q.protocol, receiveProtocol: q.protocol, receiveLength: q.receiveLength, rv: h, apdu: new Uint8Array(0) });
        const out = h.reader.card!.transmit(q.apdu);
        if (out.length > PCSC_LIMITS.MAX_BUFFER_SIZE_EXTENDED) throw new Error('response too long');
        return this.#send(c, { kind: 'transmit', card: q.card, protocol: q.protocol, receiveProtocol: h.protocol, receiveLength: out.length, rv: 0, apdu: out });
      }
    }
  }
}
