/**
 * The terminal's SIP2 link to a library system: a thin TCP adapter around the sans-I/O client of
 * `@onecard/protocol/sip2`. One request at a time (SIP2 is strictly request/response; callers are
 * queued). The connection opens on first use and, after any drop, again on the next request:
 * connect, Login (93) when a user is configured, SC Status (99). Retransmission on a bad checksum
 * (97), on the library's 96 and on timeouts is the state machine's; this file only moves bytes and
 * arms one timer at the machine's deadline. The login password is never logged.
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { Logger } from 'pino';
import {
  Sip2Framer, initialSip2ClientState, loginRequest, scStatusRequest, stepSip2Client,
  type Sip2Charset, type Sip2ClientEffect, type Sip2ClientState, type Sip2Message,
} from '@onecard/protocol/sip2';
import { TerminalError } from '../errors.ts';

export interface Sip2LinkOptions {
  readonly host: string;
  readonly port: number;
  readonly charset: Sip2Charset;
  readonly errorDetection: boolean;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  /** Login (93) after connecting; no login when `user` is empty. */
  readonly user: string;
  readonly password: string;
  readonly location: string;
  readonly logger?: Logger;
  readonly clock?: () => number;
  /** Connects a socket (tests inject failures); default `net.connect`. */
  readonly connect?: (host: string, port: number) => Socket;
  /** Longest wait for the TCP connection, ms (default `timeoutMs`). */
  readonly connectTimeoutMs?: number;
}

type Request = Pick<Sip2Message, 'code' | 'fixed' | 'fields'>;

/** Requests that change nothing at the library: safe to send again after a dropped connection. */
const IDEMPOTENT: ReadonlySet<string> = new Set(['23', '63', '99', '93']);

/** A SIP2 link with reconnect; see the file comment. */
export class Sip2Link {
  readonly #o: Sip2LinkOptions;
  readonly #now: () => number;
  #socket: Socket | undefined;
  #ready: Promise<void> | undefined;
  #state: Sip2ClientState = initialSip2ClientState;
  #framer = new Sip2Framer();
  #timer: NodeJS.Timeout | undefined;
  #pending: { resolve: (m: Sip2Message) => void; reject: (e: unknown) => void } | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** Counters for status and tests. */
  readonly stats = { connects: 0, requests: 0, retransmits: 0, failures: 0 };

  constructor(o: Sip2LinkOptions) {
    this.#o = o;
    this.#now = o.clock ?? Date.now;
  }

  /** True while a TCP connection is up and logged in. */
  get connected(): boolean { return this.#socket !== undefined && this.#ready !== undefined; }

  /**
   * Sends one request and resolves with its response. Queued behind requests in flight.
   * @throws TerminalError `TERM_ERR_LIBRARY_UNAVAILABLE` (cannot connect, link dropped, no answer
   *   after the retries), `TERM_ERR_LIBRARY_LOGIN` (login refused), `TERM_ERR_LIBRARY_PROTOCOL`
   *   (answers that stay malformed, or answer another request)
   */
  request(req: Request): Promise<Sip2Message> {
    const run = this.#queue.then(async () => {
      if (this.#closed) throw new TerminalError('TERM_ERR_LIBRARY_UNAVAILABLE', 'link closed');
      const reused = this.#ready !== undefined && this.#socket !== undefined;
      await this.#ensure();
      try {
        return await this.#exchange(req);
      } catch (e) {
        // A connection the library closed while idle is found dead only by using it: a request
        // that changes nothing is sent once more on a fresh connection. Circulation requests are
        // not (the library may have acted on them); the caller sees the failure.
        if (!reused || !IDEMPOTENT.has(req.code) || !(e instanceof TerminalError) || e.details['status'] !== 'closed' || this.#closed) throw e;
        await this.#ensure();
        return this.#exchange(req);
      }
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Ends the connection for good. */
  close(): void {
    this.#closed = true;
    this.#drop(new TerminalError('TERM_ERR_LIBRARY_UNAVAILABLE', 'link closed'));
  }

  #ensure(): Promise<void> {
    if (this.#ready !== undefined && this.#socket !== undefined) return this.#ready;
    const ready = this.#open();
    this.#ready = ready;
    ready.catch(() => { if (this.#ready === ready) this.#ready = undefined; });
    return ready;
  }

  async #open(): Promise<void> {
    const o = this.#o;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = (o.connect ?? ((h, p) => netConnect({ host: h, port: p })))(o.host, o.port);
      const timer = setTimeout(() => { s.destroy(); reject(new TerminalError('TERM_ERR_LIBRARY_UNAVAILABLE', `no connection to ${o.host}:${o.port}`, { status: 'connect-timeout' })); }, o.connectTimeoutMs ?? o.timeoutMs);
      s.once('connect', () => { clearTimeout(timer); resolve(s); });
      s.once('error', (e) => { clearTimeout(timer); reject(new TerminalError('TERM_ERR_LIBRARY_UNAVAILABLE', `${o.host}:${o.port}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { status: 'connect' }, { cause: e })); });
    });
    this.stats.connects++;
    this.#socket = socket;
    this.#framer = new Sip2Framer();
    this.#state = initialSip2ClientState;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(new Uint8Array(chunk)));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.#socket === socket) this.#drop(new TerminalError('TERM_ERR_LIBRARY_UNAVAILABLE', 'the library system closed the connection', { status: 'closed' }));
    });
    o.logger?.info({ host: o.host, port: o.port, charset: o.charset, errorDetection: o.errorDetection }, 'library SIP2 link connected');
    try {
      if (o.user !== '') {
        const login = await this.#exchange(loginRequest({ user: o.user, password: o.password, ...(o.location === '' ? {} : { location: o.location }) }));
        if (login.fixed['ok'] !== '1') throw new TerminalError('TERM_ERR_LIBRARY_LOGIN', `user ${o.user}`);
      }
      await this.#exchange(scStatusRequest());
    } catch (e) {
      this.#drop(e);
      throw e;
    }
  }

  #exchange(req: Request): Promise<Sip2Message> {
    this.stats.requests++;
    return new Promise<Sip2Message>((resolve, reject) => {
      this.#pending = { resolve, reject };
      try {
        this.#apply(stepSip2Client(this.#state, { type: 'send', message: req, now: this.#now() }, this.#opts()));
      } catch (e) {
        this.#pending = undefined;
        reject(e);
      }
    });
  }

  #opts() {
    const o = this.#o;
    return { charset: o.charset, errorDetection: o.errorDetection, timeoutMs: o.timeoutMs, maxRetries: o.maxRetries };
  }

  #onData(chunk: Uint8Array): void {
    let frames: Uint8Array[];
    try {
      frames = this.#framer.push(chunk);
    } catch (e) {
      this.#drop(new TerminalError('TERM_ERR_LIBRARY_PROTOCOL', 'overlong message', {}, { cause: e }));
      return;
    }
    for (const frame of frames) this.#apply(stepSip2Client(this.#state, { type: 'frame', frame, now: this.#now() }, this.#opts()));
  }

  #apply(step: { state: Sip2ClientState; effects: readonly Sip2ClientEffect[] }): void {
    this.#state = step.state;
    for (const e of step.effects) {
      switch (e.type) {
        case 'write':
          if (e.why !== 'request') {
            this.stats.retransmits++;
            this.#o.logger?.warn({ why: e.why }, 'library SIP2 retransmission');
          }
          this.#socket?.write(e.bytes);
          break;
        case 'response': {
          const p = this.#pending;
          this.#pending = undefined;
          p?.resolve(e.message);
          break;
        }
        case 'failed': {
          this.stats.failures++;
          const p = this.#pending;
          this.#pending = undefined;
          const code = e.error.code === 'PROTO_ERR_SIP2_TIMEOUT' || e.error.code === 'PROTO_ERR_SIP2_STATE' ? 'TERM_ERR_LIBRARY_UNAVAILABLE' : 'TERM_ERR_LIBRARY_PROTOCOL';
          p?.reject(new TerminalError(code, e.error.code, { status: e.error.code }, { cause: e.error }));
          // After a failed exchange the library may still answer it late: start clean next time.
          if (code === 'TERM_ERR_LIBRARY_PROTOCOL' || e.error.code === 'PROTO_ERR_SIP2_TIMEOUT') this.#drop(undefined);
          break;
        }
        case 'ignored':
          this.#o.logger?.debug({ code: e.code, reason: e.reason }, 'library SIP2 frame ignored');
          break;
      }
    }
    this.#arm();
  }

  #arm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#state.phase !== 'awaiting') return;
    const wait = Math.max(0, this.#state.deadline - this.#now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#apply(stepSip2Client(this.#state, { type: 'tick', now: Math.max(this.#now(), this.#state.phase === 'awaiting' ? this.#state.deadline : 0) }, this.#opts()));
    }, wait);
    this.#timer.unref?.();
  }

  /** Closes the socket; a request in flight fails with `err` (when given). */
  #drop(err: unknown): void {
    const s = this.#socket;
    this.#socket = undefined;
    this.#ready = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#state = initialSip2ClientState;
    const p = this.#pending;
    this.#pending = undefined;
    if (p !== undefined) p.reject(err ?? new TerminalError('TERM_ERR_LIBRARY_UNAVAILABLE', 'link dropped', { status: 'closed' }));
    if (s !== undefined) {
      s.destroy();
      this.#o.logger?.info({ host: this.#o.host, port: this.#o.port }, 'library SIP2 link closed');
    }
  }
}

