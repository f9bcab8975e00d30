/**
 * CCID message exchange over a reader transport: one command at a time, with the framing of the
 * link (GemPC serial framing, reader-link.md §8, or the OneCard HID link, docs/hid-link.md)
 * hidden behind a small framer. It implements what the serial driver does between "write a
 * command" and "hand back its response": echo dropped (GemPC Twin), NAK → the whole command
 * replayed, `50 xx` card-movement notices passed to listeners, T=0 time-request bytes restart
 * the wait, time-extension responses stretch the wait by bError, stale responses (wrong bSeq)
 * dropped, and the read-ahead buffer reset after every failed read.
 */
import { createHidReassembler, createSerialDecoder, decodeCcidResponse, encodeCcidMessage, encodeHidReports, encodeSerialFrame, extendedTimeout, type CcidCommand, type CcidResponse, type HidLinkOptions } from '@onecard/protocol/ccid';
import type { Logger } from 'pino';
import { TerminalError } from '../errors.ts';
import type { ReaderTransport } from '../link/transport.ts';
import type { Clock } from './clock.ts';

/** What the framer makes of received bytes. */
type LinkInput =
  | { readonly kind: 'message'; readonly message: Uint8Array; readonly intact: boolean }
  | { readonly kind: 'nak' }
  | { readonly kind: 'notify'; readonly bits: number }
  | { readonly kind: 'keepalive' }
  | { readonly kind: 'garbage'; readonly code: string };

interface Framer {
  encode(message: Uint8Array): Uint8Array[];
  push(chunk: Uint8Array): LinkInput[];
  /** A reply is about to be read (arms the echo on the GemPC Twin). */
  expectReply(): void;
  /** Drops the read-ahead buffer (after a failed read). */
  reset(): void;
}

/** GemPC serial framing [CCID serial §8.2, §8.3]. */
function serialFramer(echo: boolean): Framer {
  const decoder = createSerialDecoder({ side: 'host', echo, lrc: 'compatible' });
  return {
    encode: (m) => [encodeSerialFrame(m)],
    push(chunk) {
      const out: LinkInput[] = [];
      for (const ev of decoder.push(chunk)) {
        switch (ev.type) {
          case 'frame':
            // A command frame (bMessageType 6x) is a stray echo of ours, never a response.
            if (ev.message[0]! < 0x80) break;
            out.push({ kind: 'message', message: ev.message, intact: ev.lrcOk });
            break;
          case 'echo':
            break; // [CCID serial §8.3] with echo on, the first frame is the echo: dropped
          case 'nak':
            out.push({ kind: 'nak' });
            break;
          case 'slot-change':
            out.push({ kind: 'notify', bits: ev.bits });
            break;
          case 'time-request':
            out.push({ kind: 'keepalive' }); // [CCID serial §8.3] ignored, keep waiting
            break;
          case 'garbage':
            out.push({ kind: 'garbage', code: ev.code });
            break;
        }
      }
      return out;
    },
    expectReply: () => decoder.expectEcho(),
    reset: () => decoder.reset(),
  };
}

/** OneCard HID link framing [HID link §2, §3]; notices are `50 bmSlotICCState` messages. */
function hidFramer(opts: HidLinkOptions): Framer {
  const re = createHidReassembler(opts);
  return {
    encode: (m) => encodeHidReports(m, opts),
    push(report) {
      const out: LinkInput[] = [];
      for (const ev of re.push(report)) {
        if (ev.type === 'error') out.push({ kind: 'message', message: new Uint8Array(0), intact: false });
        else if (ev.message[0] === 0x50 && ev.message.length >= 2) out.push({ kind: 'notify', bits: ev.message[1]! });
        else out.push({ kind: 'message', message: ev.message, intact: true });
      }
      return out;
    },
    expectReply: () => undefined,
    reset: () => re.reset(),
  };
}

/** Options of one {@link CcidLink.transact} call. */
export interface TransactOptions {
  /** Wait for the response, stretched by time extensions. */
  readonly timeoutMs: number;
  /**
   * The command may be sent again when its response arrived corrupted (it has no effect on the
   * card, e.g. GetSlotStatus, Escape). XfrBlock is not: a corrupted answer to it fails with
   * `TERM_ERR_LINK_FRAME` so that the caller decides (T=1 recovers through an R-block).
   */
  readonly replayable: boolean;
}

/** A command without its sequence number: the link numbers commands itself. */
export type UnsequencedCommand = CcidCommand extends infer C ? (C extends CcidCommand ? Omit<C, 'bSeq'> : never) : never;

/** Exchange of CCID messages with one reader. */
export interface CcidLink {
  /**
   * Sends one command and resolves with its response. Commands are queued: one in flight at a time.
   * Rejects with `TERM_ERR_LINK_TIMEOUT` (no response in time), `TERM_ERR_LINK_FRAME` (corrupted
   * response to a non-replayable command, or NAK/corruption after every replay),
   * `TERM_ERR_LINK_CLOSED` / `TERM_ERR_LINK_IO` (the transport went away).
   */
  transact(command: UnsequencedCommand, opts: TransactOptions): Promise<CcidResponse>;
  /** Card-movement notices as bmSlotICCState bits (2 per slot: present, changed). */
  onNotice(listener: (bits: number) => void): () => void;
}

/** Options of {@link createCcidLink}. */
export interface CcidLinkOptions {
  readonly transport: ReaderTransport;
  /** Framing of the link: GemPC serial (with or without echo) or the OneCard HID link. */
  readonly framing: { readonly type: 'serial'; readonly echo: boolean } | ({ readonly type: 'hid' } & HidLinkOptions);
  readonly clock: Clock;
  readonly logger?: Logger | undefined;
  /** Replays after a NAK or a corrupted response to a replayable command; default 3. */
  readonly maxReplays?: number;
}

interface Pending {
  readonly seq: number;
  readonly writes: Uint8Array[];
  readonly opts: TransactOptions;
  timeoutMs: number;
  replays: number;
  timer: unknown;
  resolve(r: CcidResponse): void;
  reject(e: TerminalError): void;
}

class Link implements CcidLink {
  readonly #t: ReaderTransport;
  readonly #framer: Framer;
  readonly #clock: Clock;
  readonly #log: Logger | undefined;
  readonly #maxReplays: number;
  readonly #notice = new Set<(bits: number) => void>();
  #seq = 0;
  #pending: Pending | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(o: CcidLinkOptions) {
    this.#t = o.transport;
    this.#framer = o.framing.type === 'serial' ? serialFramer(o.framing.echo) : hidFramer(o.framing);
    this.#clock = o.clock;
    this.#log = o.logger;
    this.#maxReplays = o.maxReplays ?? 3;
    o.transport.onData((chunk) => this.#onData(chunk));
    o.transport.onClose((err) => {
      const p = this.#pending;
      if (p !== undefined) this.#fail(p, err ?? new TerminalError('TERM_ERR_LINK_CLOSED', o.transport.path, { path: o.transport.path }));
    });
  }

  onNotice(listener: (bits: number) => void): () => void {
    this.#notice.add(listener);
    return () => this.#notice.delete(listener);
  }

  transact(command: UnsequencedCommand, opts: TransactOptions): Promise<CcidResponse> {
    const run = this.#queue.then(() => this.#run(command, opts));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #run(command: UnsequencedCommand, opts: TransactOptions): Promise<CcidResponse> {
    const seq = this.#seq;
    this.#seq = (this.#seq + 1) & 0xff;
    const message = encodeCcidMessage({ ...command, bSeq: seq } as CcidCommand);
    return new Promise<CcidResponse>((resolve, reject) => {
      const p: Pending = { seq, writes: this.#framer.encode(message), opts, timeoutMs: opts.timeoutMs, replays: 0, timer: undefined, resolve, reject };
      this.#pending = p;
      this.#send(p);
    });
  }

  #send(p: Pending): void {
    this.#framer.expectReply();
    this.#arm(p);
    void (async () => {
      try {
        for (const w of p.writes) await this.#t.write(w);
      } catch (e) {
        if (this.#pending === p) this.#fail(p, e instanceof TerminalError ? e : new TerminalError('TERM_ERR_LINK_IO', String(e), {}, { cause: e }));
      }
    })();
  }

  #arm(p: Pending): void {
    if (p.timer !== undefined) this.#clock.clearTimeout(p.timer);
    p.timer = this.#clock.setTimeout(() => {
      if (this.#pending !== p) return;
      this.#fail(p, new TerminalError('TERM_ERR_LINK_TIMEOUT', `no response in ${p.timeoutMs} ms`, { timeoutMs: p.timeoutMs, bSeq: p.seq }));
    }, p.timeoutMs);
  }

  #settle(p: Pending): void {
    if (p.timer !== undefined) this.#clock.clearTimeout(p.timer);
    p.timer = undefined;
    if (this.#pending === p) this.#pending = undefined;
  }

  #fail(p: Pending, e: TerminalError): void {
    this.#settle(p);
    this.#framer.reset(); // [CCID serial §8.3] the read-ahead buffer is reset after a failed read
    p.reject(e);
  }

  #replay(p: Pending, why: string): void {
    if (p.replays >= this.#maxReplays) {
      this.#fail(p, new TerminalError('TERM_ERR_LINK_FRAME', `${why} after ${p.replays} replays`, { bSeq: p.seq }));
      return;
    }
    p.replays++;
    this.#log?.debug({ bSeq: p.seq, why, replay: p.replays }, 'ccid replay');
    this.#framer.reset();
    this.#send(p);
  }

  #onData(chunk: Uint8Array): void {
    let inputs: LinkInput[];
    try {
      inputs = this.#framer.push(chunk);
    } catch (e) {
      this.#log?.warn({ err: e }, 'reader link framing failure');
      this.#framer.reset();
      return;
    }
    for (const input of inputs) this.#onInput(input);
  }

  #onInput(input: LinkInput): void {
    const p = this.#pending;
    switch (input.kind) {
      case 'notify':
        for (const l of [...this.#notice]) l(input.bits);
        return;
      case 'keepalive':
        if (p !== undefined) this.#arm(p); // [CCID serial §8.3] the card asked for more time
        return;
      case 'garbage':
        this.#log?.debug({ code: input.code }, 'reader link garbage dropped');
        return;
      case 'nak':
        // [CCID serial §8.3] NAK: the command layer replays the whole command.
        if (p !== undefined) this.#replay(p, 'NAK');
        return;
      case 'message':
        break;
    }
    if (p === undefined) {
      this.#log?.debug({ length: input.message.length }, 'unsolicited reader message dropped');
      return;
    }
    if (!input.intact) {
      // [CCID serial §8.3, ONECARD] a wrong LRC is an error, never a value we hand on.
      if (p.opts.replayable) this.#replay(p, 'corrupted response');
      else this.#fail(p, new TerminalError('TERM_ERR_LINK_FRAME', 'corrupted response', { bSeq: p.seq }));
      return;
    }
    let r: CcidResponse;
    try {
      r = decodeCcidResponse(input.message, { strictRfu: false });
    } catch (e) {
      if (p.opts.replayable) this.#replay(p, 'malformed response');
      else this.#fail(p, new TerminalError('TERM_ERR_LINK_FRAME', `malformed response: ${(e as Error).message}`, { bSeq: p.seq }, { cause: e }));
      return;
    }
    // [CCID §7.2] a response to an earlier (timed-out) command is stale: dropped.
    if (r.bSeq !== p.seq) {
      this.#log?.debug({ got: r.bSeq, want: p.seq }, 'stale reader response dropped');
      return;
    }
    if (r.bStatus.commandStatus === 'time-extension') {
      // [CCID §5] time extension: wait again, the timeout multiplied by bError (> 0).
      p.timeoutMs = extendedTimeout(p.opts.timeoutMs, r);
      this.#arm(p);
      return;
    }
    this.#settle(p);
    p.resolve(r);
  }
}

/** Creates the CCID exchange over an open (or about to be opened) transport. Never throws. */
export function createCcidLink(opts: CcidLinkOptions): CcidLink {
  return new Link(opts);
}
