/**
 * PC/SC as a reader link: one configured reader (`link: "pcsc"`, `path` = a PC/SC reader name or
 * glob pattern) driven through pcscd instead of OneCard's own CCID driver. pcscd already speaks
 * CCID, powers the card and picks T=0 or T=1 from the ATR, so this controller works at APDU level:
 * it follows the daemon's reader-state table for presence (a swap shows as a changed event
 * counter), connects in shared mode, brackets each card session in a PC/SC transaction (exclusive
 * for its duration) and applies the ISO 7816 exchange rules above SCardTransmit (T=0: case 4 sent
 * as case 3, GET RESPONSE on 61xx, resend on 6Cxx). Slot N of the configuration is the PC/SC
 * reader of the matching device whose name ends in slot number N (`… 00 01` is slot 1), so a
 * two-slot reader with a PSAM is one configuration entry, as with the serial and HID links.
 * Readers that appear or disappear, and pcscd stopping and starting again, are followed: the
 * reader reads `absent` and comes back `ok`, with exponential back-off while pcscd is away.
 */
import type { Logger } from 'pino';
import { startExchange, stepExchange, type CommandApdu, type ExchangeStep, type ResponseApdu } from '@onecard/protocol/iso7816';
import { SCARD, type PcscReaderState } from '@onecard/protocol/pcsc';
import { TerminalError } from '../errors.ts';
import type { CardChannel } from '../card/channel.ts';
import type { Clock } from '../card/clock.ts';
import { checkPowerUpAtr } from '../card/atr-check.ts';
import { Mutex } from '../card/mutex.ts';
import { openPcscConnection, pcscNameMatches, pcscSlotOf, watchPcscReaders, type PcscCard, type PcscConnection, type PcscWatcher } from './pcsc-client.ts';

/** The configuration entry of a PC/SC reader (the reader manager's `ReaderConfig` with `link: "pcsc"`). */
export interface PcscReaderConfig {
  readonly id: string;
  /** PC/SC reader name (with or without the ` NN SS` suffix) or a glob with `*` and `?`. */
  readonly path: string;
  readonly userSlot?: number;
  readonly psamSlot?: number;
}

/** What the controller needs from the reader manager. */
export interface PcscControllerHost {
  readonly clock: Clock;
  readonly logger: Logger | undefined;
  readonly backoffInitial: number;
  readonly backoffMax: number;
  /** pcscd's socket; default `/run/pcscd/pcscd.comm`. */
  readonly pcscSocketPath?: string | undefined;
  emit(event: string, payload: unknown): boolean;
}

/** The reader status of a PC/SC reader (the reader manager's `ReaderStatus` shape). */
export interface PcscReaderStatus {
  readonly readerId: string;
  readonly link: 'pcsc';
  readonly path: string;
  readonly model: 'pcsc';
  readonly status: 'ok' | 'absent' | 'error';
  readonly detail?: string;
  /** The PC/SC reader names in use. */
  readonly firmware?: string;
  readonly slots: ReadonlyArray<{ readonly slot: number; readonly role: 'user' | 'psam'; readonly present: boolean; readonly powered: boolean; readonly events: number }>;
}

interface Slot {
  readonly slot: number;
  readonly role: 'user' | 'psam';
  /** The PC/SC reader serving this slot, from the last table. */
  reader: string | undefined;
  present: boolean;
  /** The daemon's event counter at the last observation. */
  counter: number | undefined;
  atr: Uint8Array;
  /** +1 per insertion or removal seen. */
  events: number;
  /** Events value at the last card-inserted announcement. */
  announced: number;
  /** Open handle and the events value it belongs to. */
  card: { readonly card: PcscCard; readonly generation: number; readonly conn: PcscConnection } | undefined;
  ended: TerminalError | undefined;
  readonly lock: Mutex;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();

/** Drives one configured PC/SC reader for the reader manager. */
export class PcscReaderController {
  readonly cfg: PcscReaderConfig;
  readonly slots: Slot[];
  status: 'ok' | 'absent' | 'error' = 'absent';
  detail: string | undefined = 'not opened yet';
  #names: string[] = [];
  #conn: PcscConnection | undefined;
  #watcher: PcscWatcher | undefined;
  #retryTimer: unknown;
  #backoff: number;
  #closed = false;
  readonly #h: PcscControllerHost;
  #log: Logger | undefined;

  constructor(cfg: PcscReaderConfig, host: PcscControllerHost) {
    this.cfg = cfg;
    this.#h = host;
    this.#backoff = host.backoffInitial;
    const mk = (slot: number, role: 'user' | 'psam'): Slot => ({ slot, role, reader: undefined, present: false, counter: undefined, atr: new Uint8Array(0), events: 0, announced: 0, card: undefined, ended: undefined, lock: new Mutex() });
    this.slots = [mk(cfg.userSlot ?? 0, 'user')];
    if (cfg.psamSlot !== undefined) this.slots.push(mk(cfg.psamSlot, 'psam'));
    this.#log = host.logger?.child({ readerId: cfg.id });
  }

  #setStatus(status: 'ok' | 'absent' | 'error', detail?: string): void {
    const changed = status !== this.status || detail !== this.detail;
    this.status = status;
    this.detail = detail;
    if (changed) this.#h.emit('reader-status', { readerId: this.cfg.id, status, ...(detail === undefined ? {} : { detail }) });
  }

  #options(): { socketPath?: string } {
    return this.#h.pcscSocketPath === undefined ? {} : { socketPath: this.#h.pcscSocketPath };
  }

  /** Connects to pcscd and starts following its reader states; retries with back-off. Never rejects. */
  async connect(): Promise<void> {
    if (this.#closed) return;
    let conn: PcscConnection | undefined;
    try {
      conn = await openPcscConnection(this.#options());
      const c = conn;
      const watcher = await watchPcscReaders(this.#options(), (t) => this.#apply(c, t), (e) => this.#lost(c, e));
      if (this.#closed) {
        watcher.close();
        await conn.close();
        return;
      }
      this.#conn = conn;
      this.#watcher = watcher;
      this.#backoff = this.#h.backoffInitial;
      conn.onClose((e) => this.#lost(c, e));
    } catch (e) {
      await conn?.close();
      const err = e instanceof TerminalError ? e : new TerminalError('TERM_ERR_LINK_IO', String(e), {}, { cause: e });
      this.#setStatus(err.code === 'TERM_ERR_LINK_PCSC_UNAVAILABLE' ? 'absent' : 'error', `${err.code}: ${err.message}`);
      this.#log?.warn({ code: err.code }, 'pcscd connection failed');
      this.#scheduleRetry();
    }
  }

  #scheduleRetry(): void {
    if (this.#closed) return;
    const delay = this.#backoff;
    this.#backoff = Math.min(this.#backoff * 2, this.#h.backoffMax);
    this.#retryTimer = this.#h.clock.setTimeout(() => {
      this.#retryTimer = undefined;
      void this.connect();
    }, delay);
  }

  /** pcscd went away (or our socket broke): sessions end with a link error, slots read absent, retry. */
  #lost(conn: PcscConnection, err: TerminalError): void {
    if (this.#conn !== conn) return;
    this.#conn = undefined;
    this.#watcher?.close();
    this.#watcher = undefined;
    void conn.close();
    const lost = new TerminalError(err.code.startsWith('TERM_ERR_LINK_') ? err.code : 'TERM_ERR_LINK_CLOSED', `${this.cfg.id}: pcscd connection lost (${err.message})`, { readerId: this.cfg.id }, { cause: err });
    for (const s of this.slots) {
      if (s.card !== undefined) s.ended ??= lost;
      s.card = undefined;
      this.#observe(s, false, false, lost);
    }
    if (this.#closed) return;
    this.#setStatus('absent', `${lost.code}: pcscd not reachable`);
    this.#log?.warn({ code: err.code }, 'pcscd lost');
    this.#scheduleRetry();
  }

  /** A new reader-state table. */
  #apply(conn: PcscConnection, table: readonly PcscReaderState[]): void {
    if (this.#closed || (this.#conn !== undefined && this.#conn !== conn)) return;
    const matching = table.filter((r) => pcscNameMatches(this.cfg.path, r.name));
    this.#names = matching.map((r) => r.name);
    for (const s of this.slots) {
      // pcscd marks a reader it cannot talk to (unplugged serial reader) SCARD_UNKNOWN: treated as gone.
      const r = matching.find((m) => pcscSlotOf(m.name) === s.slot && (m.state & SCARD.UNKNOWN) === 0);
      if (r === undefined) {
        // The reader of this slot went away: a reader problem, not a removed card.
        const gone = new TerminalError('TERM_ERR_LINK_CLOSED', `${this.cfg.id}: PC/SC reader for slot ${s.slot} is gone`, { readerId: this.cfg.id, slot: s.slot });
        if (s.card !== undefined) s.ended ??= gone;
        s.card = undefined;
        s.reader = undefined;
        s.counter = undefined;
        this.#observe(s, false, false, gone);
        continue;
      }
      s.reader = r.name;
      const present = (r.state & SCARD.PRESENT) !== 0;
      // A changed event counter while present both times: the card was swapped between two tables.
      const swapped = s.present && present && s.counter !== undefined && r.eventCounter !== s.counter;
      s.counter = r.eventCounter;
      if (present) s.atr = r.atr;
      this.#observe(s, present, swapped, undefined);
    }
    const missing = this.slots.filter((s) => s.reader === undefined);
    if (missing.length === this.slots.length) this.#setStatus('absent', `no PC/SC reader matches '${this.cfg.path}'`);
    else if (missing.length > 0) this.#setStatus('error', `no PC/SC reader for slot ${missing.map((s) => s.slot).join(', ')} of '${this.cfg.path}'`);
    else this.#setStatus('ok', this.#names.join(' | '));
  }

  #observe(s: Slot, present: boolean, swapped: boolean, why: TerminalError | undefined): void {
    if (s.present && (!present || swapped)) {
      s.present = false;
      s.events++;
      s.ended ??= why ?? new TerminalError('TERM_ERR_CARD_REMOVED', `slot ${s.slot}`, { slot: s.slot });
      const held = s.card;
      s.card = undefined;
      if (held !== undefined && !held.conn.closed) void held.conn.disconnect(held.card).catch(() => undefined);
      this.#log?.info({ slot: s.slot }, 'card removed');
      this.#h.emit('card-removed', { readerId: this.cfg.id, slot: s.slot });
    }
    if (!s.present && present) {
      s.present = true;
      s.events++;
      s.ended = undefined;
      this.#log?.info({ slot: s.slot }, 'card inserted');
    }
    // pcscd powers a card at insertion; its ATR arrives with the same table or a later one.
    if (s.present && s.announced !== s.events && s.atr.length > 0) {
      s.announced = s.events;
      this.#h.emit('card-inserted', { readerId: this.cfg.id, slot: s.slot, atr: s.atr });
    }
  }

  /** Whether the PC/SC reader of `s` still exists (asked afresh; distinguishes a lost reader from a removed card). */
  async #readerGone(conn: PcscConnection, s: Slot): Promise<boolean> {
    try {
      const t = await conn.readerStates();
      return !t.some((r) => r.name === s.reader && (r.state & SCARD.UNKNOWN) === 0);
    } catch {
      return true;
    }
  }

  /**
   * Runs `fn` with the card in `slot`, inside a PC/SC transaction.
   * @throws TerminalError `TERM_ERR_INVALID_ARGUMENT`, `TERM_ERR_READER_UNAVAILABLE`, `TERM_ERR_NO_CARD`,
   *   `TERM_ERR_CARD_ATR`, `TERM_ERR_CARD_MUTE`, `TERM_ERR_CARD_PROTOCOL`, link codes; and whatever `fn` throws.
   */
  async withCard<T>(slot: number, fn: (channel: CardChannel) => Promise<T>): Promise<T> {
    const s = this.slots.find((x) => x.slot === slot);
    if (s === undefined) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', `slot ${slot} is not configured on ${this.cfg.id}`, { readerId: this.cfg.id, slot });
    return s.lock.run(async () => {
      const conn = this.#conn;
      if (conn === undefined || s.reader === undefined) throw new TerminalError('TERM_ERR_READER_UNAVAILABLE', `${this.cfg.id}: ${this.detail ?? this.status}`, { readerId: this.cfg.id });
      if (!s.present) throw new TerminalError('TERM_ERR_NO_CARD', `${this.cfg.id} slot ${slot}`, { readerId: this.cfg.id, slot });
      const generation = s.events;
      let held = s.card !== undefined && s.card.generation === generation && s.card.conn === conn ? s.card.card : undefined;
      if (held !== undefined) {
        // [PC/SC] SCardStatus on a kept handle: the same card, still powered? Otherwise start afresh.
        try {
          await conn.status(held);
        } catch (e) {
          const code = (e as TerminalError).code;
          if (code === 'TERM_ERR_CARD_RESET') held = await conn.reconnect(held, false).catch(() => undefined);
          else {
            await conn.disconnect(held).catch(() => undefined);
            held = undefined;
          }
        }
      }
      if (held === undefined) {
        try {
          held = await conn.connect(s.reader);
        } catch (e) {
          if (e instanceof TerminalError && (e.code === 'TERM_ERR_LINK_CLOSED' || e.code === 'TERM_ERR_LINK_PCSC_FAILED') && (await this.#readerGone(conn, s))) {
            throw new TerminalError('TERM_ERR_READER_UNAVAILABLE', `${this.cfg.id}: PC/SC reader ${s.reader} is gone`, { readerId: this.cfg.id }, { cause: e });
          }
          throw e;
        }
        if (s.events !== generation) {
          await conn.disconnect(held).catch(() => undefined);
          throw new TerminalError('TERM_ERR_CARD_REMOVED', `slot ${slot} during connect`, { slot });
        }
        // [7816-3 §8] the same ATR verdict as the serial and HID links.
        if (s.atr.length > 0) {
          try {
            checkPowerUpAtr(s.atr, slot);
          } catch (e) {
            await conn.disconnect(held).catch(() => undefined);
            throw e;
          }
        }
        s.card = { card: held, generation, conn };
        this.#log?.debug({ slot, atr: hex(s.atr), protocol: held.protocol }, 'card connected');
      }
      const card = held;
      await conn.beginTransaction(card);
      let open = true;
      const channel = new PcscChannel({
        conn, card, slot, atr: s.atr, logger: this.#log,
        check: () => {
          if (!open) return new TerminalError('TERM_ERR_SESSION_CLOSED', `${this.cfg.id} slot ${slot}`, { readerId: this.cfg.id, slot });
          if (this.#conn !== conn) return new TerminalError('TERM_ERR_LINK_CLOSED', `${this.cfg.id}: pcscd connection lost`, { readerId: this.cfg.id });
          if (s.events !== generation) return s.ended ?? new TerminalError('TERM_ERR_CARD_REMOVED', `${this.cfg.id} slot ${slot}`, { readerId: this.cfg.id, slot });
          return null;
        },
        failed: async (e) => {
          // The daemon reports a vanished reader's card as removed: ask whether the reader is still there.
          if ((e.code === 'TERM_ERR_CARD_REMOVED' || e.code === 'TERM_ERR_LINK_CLOSED' || e.code === 'TERM_ERR_LINK_PCSC_FAILED') && (await this.#readerGone(conn, s))) {
            return new TerminalError('TERM_ERR_LINK_CLOSED', `${this.cfg.id}: PC/SC reader ${s.reader ?? ''} is gone`, { readerId: this.cfg.id }, { cause: e });
          }
          if (e.code === 'TERM_ERR_CARD_REMOVED' || e.code === 'TERM_ERR_CARD_RESET') {
            if (s.card?.card === card) s.card = undefined;
            void conn.disconnect(card).catch(() => undefined);
          }
          return e;
        },
      });
      try {
        return await fn(channel);
      } finally {
        open = false;
        if (!conn.closed) await conn.endTransaction(card).catch(() => undefined);
      }
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retryTimer !== undefined) this.#h.clock.clearTimeout(this.#retryTimer);
    this.#watcher?.close();
    this.#watcher = undefined;
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn !== undefined) {
      for (const s of this.slots) {
        if (s.card !== undefined && s.card.conn === conn) await conn.disconnect(s.card.card).catch(() => undefined);
        s.card = undefined;
      }
      await conn.close();
    }
  }

  snapshot(): PcscReaderStatus {
    return {
      readerId: this.cfg.id, link: 'pcsc', path: this.cfg.path, model: 'pcsc', status: this.status,
      ...(this.detail === undefined ? {} : { detail: this.detail }),
      ...(this.#names.length === 0 ? {} : { firmware: this.#names.join(' | ') }),
      slots: this.slots.map((s) => ({ slot: s.slot, role: s.role, present: s.present, powered: s.card !== undefined, events: s.events })),
    };
  }
}

interface ChannelOptions {
  readonly conn: PcscConnection;
  readonly card: PcscCard;
  readonly slot: number;
  readonly atr: Uint8Array;
  readonly logger: Logger | undefined;
  readonly check: () => TerminalError | null;
  /** Turns a failed SCardTransmit into the error the caller sees. */
  readonly failed: (e: TerminalError) => Promise<TerminalError>;
}

/** The CardChannel over SCardTransmit, with the ISO 7816 exchange rules above it. */
class PcscChannel implements CardChannel {
  readonly atr: Uint8Array;
  readonly protocol: 0 | 1;
  readonly #o: ChannelOptions;
  #ended: TerminalError | undefined;

  constructor(o: ChannelOptions) {
    this.#o = o;
    this.atr = o.atr;
    this.protocol = o.card.protocol;
  }

  #ensure(): void {
    const e = this.#ended ?? this.#o.check();
    if (e !== null && e !== undefined) throw e;
  }

  async transmit(apdu: CommandApdu): Promise<ResponseApdu> {
    this.#ensure();
    let step: ExchangeStep;
    try {
      // [7816-4 §5.3; 7816-3 §10.3] pcscd passes T=0 TPDUs through: case 4 goes as case 3, then GET RESPONSE.
      step = startExchange(apdu, { transport: this.protocol === 0 ? 't0' : 'apdu' });
    } catch (e) {
      throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', `APDU: ${(e as Error).message}`, {}, { cause: e });
    }
    while (!('done' in step)) {
      this.#ensure();
      let response: Uint8Array;
      try {
        response = await this.#o.conn.transmit(this.#o.card, step.send);
      } catch (e) {
        const moved = this.#o.check();
        const err = moved ?? (await this.#o.failed(e instanceof TerminalError ? e : new TerminalError('TERM_ERR_LINK_IO', String(e), {}, { cause: e })));
        if (err.code === 'TERM_ERR_CARD_REMOVED' || err.code === 'TERM_ERR_CARD_RESET' || err.code.startsWith('TERM_ERR_LINK_')) this.#ended ??= err;
        throw err;
      }
      const log = this.#o.logger;
      if (log !== undefined && log.isLevelEnabled('debug')) {
        // The logger's `apdu` serializer masks secret-bearing data; response data is never logged.
        log.debug({ slot: this.#o.slot, apdu: step.command, sw: hex(response.subarray(response.length - 2)), responseLength: response.length - 2 }, 'apdu');
      }
      try {
        step = stepExchange(step.state, response);
      } catch (e) {
        throw new TerminalError('TERM_ERR_CARD_PROTOCOL', `exchange: ${(e as Error).message}`, { slot: this.#o.slot }, { cause: e });
      }
    }
    return step.done;
  }
}
