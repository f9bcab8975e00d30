/**
 * The reader manager: the readers named in the configuration, each opened through a transport
 * and driven by the CCID reader driver; card presence from `50 xx` notices and GetSlotStatus
 * polling (every 400 ms, also the liveness probe), with a per-slot event counter so that a fast
 * swap is reported as remove + insert; re-opening with exponential back-off after an unplug or
 * I/O errors; and exclusive card sessions (`withCard`) that power the card up when needed.
 *
 * Events: `card-inserted` {readerId, slot, atr}, `card-removed` {readerId, slot},
 * `reader-status` {readerId, status: 'ok' | 'absent' | 'error', detail?}.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { TerminalError } from '../errors.ts';
import { createHidTransport, type HidOpener } from '../link/hid.ts';
import { createSerialTransport } from '../link/serial.ts';
import type { ReaderTransport, TransportFactory } from '../link/transport.ts';
import { PcscReaderController } from '../link/pcsc-reader.ts';
import type { CardChannel } from './channel.ts';
import { openCcidReader, type CcidReader, type ReaderModel, type ReaderTimeouts } from './ccid-reader.ts';
import { systemClock, type Clock } from './clock.ts';
import { createReaderChannel, powerUpSession, type SlotSession } from './reader-channel.ts';
import { Mutex } from './mutex.ts';

/** One reader of the configuration. A PSAM lives in a slot of a two-slot reader or in a separate reader. */
export interface ReaderConfig {
  readonly id: string;
  /** `pcsc`: through pcscd; `path` is then a PC/SC reader name or glob (terminal/src/link/pcsc-reader.ts). */
  readonly link: 'serial' | 'hid' | 'pcsc';
  readonly path: string;
  /** Default `gempc-twin` for serial links, `gemcore-sim-pro2` for HID links. */
  readonly model?: ReaderModel;
  /** Slot of the user card; default 0. */
  readonly userSlot?: number;
  /** Slot of the PSAM, when this reader holds one. */
  readonly psamSlot?: number;
}

/** Reader state as reported by {@link ReaderManager.status}. */
export interface ReaderStatus {
  readonly readerId: string;
  readonly link: 'serial' | 'hid' | 'pcsc';
  readonly path: string;
  readonly model: ReaderModel | 'pcsc';
  readonly status: 'ok' | 'absent' | 'error';
  readonly detail?: string;
  readonly firmware?: string;
  readonly slots: ReadonlyArray<{ readonly slot: number; readonly role: 'user' | 'psam'; readonly present: boolean; readonly powered: boolean; readonly events: number }>;
}

export interface CardInsertedEvent { readonly readerId: string; readonly slot: number; readonly atr: Uint8Array }
export interface CardRemovedEvent { readonly readerId: string; readonly slot: number }
export interface ReaderStatusEvent { readonly readerId: string; readonly status: 'ok' | 'absent' | 'error'; readonly detail?: string }

/** Options of {@link openReaderManager}. */
export interface ReaderManagerOptions {
  readonly readers: readonly ReaderConfig[];
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Default: `serialport` for serial links, node-hid (hidraw) for HID links. */
  readonly transportFactory?: TransportFactory;
  /** Used by the default factory for HID links (tests: the simulated HID reader). */
  readonly hidOpener?: HidOpener;
  /** GetSlotStatus period; default 400 ms [reader-link §7.6, §8.5]. */
  readonly pollIntervalMs?: number;
  /** Re-open back-off: first delay and cap; default 250 ms doubling up to 10 s. */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  readonly timeouts?: Partial<ReaderTimeouts>;
  /** pcscd's socket for `pcsc` readers; default `/run/pcscd/pcscd.comm`. */
  readonly pcscSocketPath?: string;
}

/** The reader manager (an EventEmitter; see the file header for its events). */
export interface ReaderManager extends EventEmitter {
  status(): ReaderStatus[];
  /**
   * Runs `fn` with exclusive use of the card in `readerId`/`slot`, powering it up if needed. The
   * channel is valid only during `fn`.
   * @throws TerminalError `TERM_ERR_READER_UNKNOWN`, `TERM_ERR_READER_UNAVAILABLE`, `TERM_ERR_NO_CARD`,
   *   `TERM_ERR_CARD_MUTE`, `TERM_ERR_INVALID_ARGUMENT` (slot), link codes; and whatever `fn` throws.
   */
  withCard<T>(readerId: string, slot: number, fn: (channel: CardChannel) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

interface SlotState {
  readonly slot: number;
  readonly role: 'user' | 'psam';
  present: boolean;
  /** Event counter: +1 per insertion or removal seen [reader-link §7.6]. */
  events: number;
  session: SlotSession | undefined;
  readonly lock: Mutex;
}

class Controller {
  readonly cfg: ReaderConfig;
  readonly model: ReaderModel;
  readonly slots: SlotState[];
  status: 'ok' | 'absent' | 'error' = 'absent';
  detail: string | undefined = 'not opened yet';
  reader: CcidReader | undefined;
  #transport: ReaderTransport | undefined;
  #pollTimer: unknown;
  #retryTimer: unknown;
  #backoff: number;
  #pollFailures = 0;
  #closed = false;
  readonly #m: Manager;

  constructor(cfg: ReaderConfig, m: Manager) {
    this.cfg = cfg;
    this.#m = m;
    this.model = cfg.model ?? (cfg.link === 'hid' ? 'gemcore-sim-pro2' : 'gempc-twin');
    const mk = (slot: number, role: 'user' | 'psam'): SlotState => ({ slot, role, present: false, events: 0, session: undefined, lock: new Mutex() });
    this.slots = [mk(cfg.userSlot ?? 0, 'user')];
    if (cfg.psamSlot !== undefined) this.slots.push(mk(cfg.psamSlot, 'psam'));
    this.#backoff = m.backoffInitial;
  }

  get log(): Logger | undefined {
    return this.#m.logger;
  }

  #childLog: Logger | undefined;
  /** The reader's child logger, made once (not per card session). */
  get readerLog(): Logger | undefined {
    const log = this.#m.logger;
    if (log === undefined) return undefined;
    return (this.#childLog ??= log.child({ readerId: this.cfg.id }));
  }

  #setStatus(status: 'ok' | 'absent' | 'error', detail?: string): void {
    const changed = status !== this.status || detail !== this.detail;
    this.status = status;
    this.detail = detail;
    if (changed) this.#m.emit('reader-status', { readerId: this.cfg.id, status, ...(detail === undefined ? {} : { detail }) } satisfies ReaderStatusEvent);
  }

  slotState(slot: number): SlotState | undefined {
    return this.slots.find((s) => s.slot === slot);
  }

  async connect(): Promise<void> {
    if (this.#closed) return;
    const transport = this.#m.transportFactory({ link: this.cfg.link as 'serial' | 'hid', path: this.cfg.path });
    this.#transport = transport;
    try {
      const reader = await openCcidReader({ transport, link: this.cfg.link as 'serial' | 'hid', model: this.model, clock: this.#m.clock, logger: this.log, timeouts: this.#m.timeouts });
      if (this.#closed) {
        await reader.close();
        return;
      }
      for (const s of this.slots) {
        if (s.slot >= reader.slots) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', `slot ${s.slot} on a ${reader.slots}-slot ${this.model}`, { slot: s.slot });
      }
      this.reader = reader;
      this.#pollFailures = 0;
      reader.onNotice((bits) => this.#onNotice(bits));
      reader.onClose((err) => this.#onLost(reader, err));
      this.#backoff = this.#m.backoffInitial;
      this.#setStatus('ok', reader.firmware);
      this.log?.info({ readerId: this.cfg.id, firmware: reader.firmware }, 'reader ready');
      await this.#poll();
    } catch (e) {
      const err = e instanceof TerminalError ? e : new TerminalError('TERM_ERR_LINK_IO', String(e), {}, { cause: e });
      if (transport.isOpen) await transport.close().catch(() => undefined);
      this.#setStatus(err.code === 'TERM_ERR_LINK_OPEN' || err.code === 'TERM_ERR_LINK_CLOSED' ? 'absent' : 'error', `${err.code}: ${err.message}`);
      this.log?.warn({ readerId: this.cfg.id, code: err.code }, 'reader open failed');
      this.#scheduleRetry();
    }
  }

  #scheduleRetry(): void {
    if (this.#closed) return;
    const delay = this.#backoff;
    this.#backoff = Math.min(this.#backoff * 2, this.#m.backoffMax);
    this.#retryTimer = this.#m.clock.setTimeout(() => {
      this.#retryTimer = undefined;
      void this.connect();
    }, delay);
  }

  /** Why the last reader went away: what sessions and channels on it report (a link error). */
  #lost: TerminalError | undefined;

  /** The reader-level error sessions of a lost reader end with: `TERM_ERR_LINK_*`, never a card code. */
  #lostError(err: TerminalError | null): TerminalError {
    const code = err !== null && err.code.startsWith('TERM_ERR_LINK_') ? err.code : 'TERM_ERR_LINK_CLOSED';
    return new TerminalError(code, `${this.cfg.id}: reader lost${err === null ? '' : ` (${err.message})`}`, { readerId: this.cfg.id }, err === null ? undefined : { cause: err });
  }

  #onLost(reader: CcidReader, err: TerminalError | null): void {
    if (this.reader !== reader) return;
    this.reader = undefined;
    if (this.#pollTimer !== undefined) this.#m.clock.clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
    // A lost reader is a reader problem: open sessions end with the link error, so a read in
    // progress reports TERM_ERR_LINK_* (exit 3), not a removed card; the slots then read absent.
    this.#lost = this.#lostError(err);
    for (const s of this.slots) if (s.session !== undefined) s.session.ended ??= this.#lost;
    // [reader-link §7.6] an unplugged reader: its slots read as absent, its state is unknown.
    for (const s of this.slots) this.#observe(s, false, false);
    if (this.#closed) return;
    this.#setStatus(err === null || err.code === 'TERM_ERR_LINK_CLOSED' ? 'absent' : 'error', err === null ? 'closed' : `${err.code}: ${err.message}`);
    this.log?.warn({ readerId: this.cfg.id, code: err?.code }, 'reader lost');
    this.#scheduleRetry();
  }

  /** bmSlotICCState: bit 2i present, bit 2i+1 changed [CCID §7.1; CCID serial §8.2]. */
  #onNotice(bits: number): void {
    for (const s of this.slots) {
      if (s.slot > 3) continue;
      const present = ((bits >> (2 * s.slot)) & 1) !== 0;
      const changed = ((bits >> (2 * s.slot)) & 2) !== 0;
      if (changed) this.#observe(s, present, s.present && present);
    }
  }

  /**
   * Applies an observation. `swapped` means a new card although the slot never read empty
   * (a `changed` notice, or a powered card found inactive): reported as remove + insert.
   */
  #observe(s: SlotState, present: boolean, swapped: boolean): void {
    if (s.present && (!present || swapped)) {
      s.present = false;
      s.events++;
      if (s.session !== undefined) s.session.ended ??= new TerminalError('TERM_ERR_CARD_REMOVED', `slot ${s.slot}`, { slot: s.slot });
      s.session = undefined;
      this.log?.info({ readerId: this.cfg.id, slot: s.slot }, 'card removed');
      this.#m.emit('card-removed', { readerId: this.cfg.id, slot: s.slot } satisfies CardRemovedEvent);
    }
    if (!s.present && present) {
      s.present = true;
      s.events++;
      this.log?.info({ readerId: this.cfg.id, slot: s.slot }, 'card inserted');
      void this.#announce(s, s.events);
    }
  }

  /** Powers a newly inserted card up to report its ATR. */
  async #announce(s: SlotState, events: number): Promise<void> {
    await s.lock.run(async () => {
      if (s.events !== events || this.reader === undefined) return;
      try {
        await this.#ensureSession(s);
      } catch (e) {
        this.log?.warn({ readerId: this.cfg.id, slot: s.slot, code: (e as TerminalError).code }, 'power-up after insertion failed');
        return;
      }
      if (s.events !== events || s.session === undefined) return;
      this.#m.emit('card-inserted', { readerId: this.cfg.id, slot: s.slot, atr: s.session.atr } satisfies CardInsertedEvent);
    }).catch(() => undefined);
  }

  async #ensureSession(s: SlotState): Promise<SlotSession> {
    const reader = this.reader;
    if (reader === undefined) throw new TerminalError('TERM_ERR_READER_UNAVAILABLE', this.cfg.id, { readerId: this.cfg.id });
    if (s.session !== undefined && s.session.ended === undefined && s.session.generation === s.events) return s.session;
    const generation = s.events;
    const session = await powerUpSession({ reader, slot: s.slot, generation, logger: this.readerLog });
    if (s.events !== generation) throw new TerminalError('TERM_ERR_CARD_REMOVED', `slot ${s.slot} during power-up`, { slot: s.slot });
    s.session = session;
    return session;
  }

  /** Presence poll, also the liveness probe [reader-link §8.5 ONECARD]. */
  async #poll(): Promise<void> {
    const reader = this.reader;
    if (reader === undefined || this.#closed) return;
    try {
      for (const s of this.slots) {
        const st = await reader.slotStatus(s.slot);
        // [reader-link §7.6] present but inactive while we hold a powered card: it was swapped.
        const lostPower = st === 'present-inactive' && s.session !== undefined && s.session.ended === undefined;
        this.#observe(s, st !== 'absent', s.present && lostPower);
      }
      this.#pollFailures = 0;
    } catch (e) {
      const code = (e as TerminalError).code;
      if (code === 'TERM_ERR_LINK_CLOSED') return; // onClose handles it
      if ((code === 'TERM_ERR_LINK_IO' || ++this.#pollFailures >= 3) && this.reader === reader) {
        this.log?.warn({ readerId: this.cfg.id, code }, 'reader stopped answering; re-opening');
        await reader.close().catch(() => undefined);
        this.#onLost(reader, new TerminalError('TERM_ERR_LINK_IO', 'reader stopped answering', { readerId: this.cfg.id }));
        return;
      }
    }
    if (this.reader === reader && !this.#closed) {
      this.#pollTimer = this.#m.clock.setTimeout(() => {
        this.#pollTimer = undefined;
        void this.#poll();
      }, this.#m.pollIntervalMs);
    }
  }

  async withCard<T>(slot: number, fn: (channel: CardChannel) => Promise<T>): Promise<T> {
    const s = this.slotState(slot);
    if (s === undefined) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', `slot ${slot} is not configured on ${this.cfg.id}`, { readerId: this.cfg.id, slot });
    return s.lock.run(async () => {
      const reader = this.reader;
      if (reader === undefined) throw new TerminalError('TERM_ERR_READER_UNAVAILABLE', `${this.cfg.id}: ${this.detail ?? this.status}`, { readerId: this.cfg.id });
      const st = await reader.slotStatus(slot);
      this.#observe(s, st !== 'absent', false);
      if (!s.present) throw new TerminalError('TERM_ERR_NO_CARD', `${this.cfg.id} slot ${slot}`, { readerId: this.cfg.id, slot });
      // [reader-link §7.6] a card we had powered found inactive: reset elsewhere — power it up again.
      if (st === 'present-inactive' && s.session !== undefined) s.session = undefined;
      const session = await this.#ensureSession(s);
      let open = true;
      const channel = createReaderChannel({
        reader,
        slot,
        session,
        logger: this.readerLog,
        cardMaxMs: this.#m.timeouts.cardMax,
        check: () => {
          if (!open) return new TerminalError('TERM_ERR_SESSION_CLOSED', `${this.cfg.id} slot ${slot}`, { readerId: this.cfg.id, slot });
          if (this.reader !== reader) return this.#lost ?? this.#lostError(null);
          if (s.events !== session.generation) return new TerminalError('TERM_ERR_CARD_REMOVED', `${this.cfg.id} slot ${slot}`, { readerId: this.cfg.id, slot });
          return null;
        },
      });
      try {
        return await fn(channel);
      } finally {
        open = false;
      }
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#pollTimer !== undefined) this.#m.clock.clearTimeout(this.#pollTimer);
    if (this.#retryTimer !== undefined) this.#m.clock.clearTimeout(this.#retryTimer);
    const r = this.reader;
    this.reader = undefined;
    if (r !== undefined) await r.close().catch(() => undefined);
    else if (this.#transport?.isOpen === true) await this.#transport.close().catch(() => undefined);
  }

  snapshot(): ReaderStatus {
    return {
      readerId: this.cfg.id, link: this.cfg.link, path: this.cfg.path, model: this.model, status: this.status,
      ...(this.detail === undefined ? {} : { detail: this.detail }),
      ...(this.reader === undefined ? {} : { firmware: this.reader.firmware }),
      slots: this.slots.map((s) => ({ slot: s.slot, role: s.role, present: s.present, powered: s.session !== undefined && s.session.ended === undefined, events: s.events })),
    };
  }
}

class Manager extends EventEmitter implements ReaderManager {
  readonly clock: Clock;
  readonly logger: Logger | undefined;
  readonly transportFactory: TransportFactory;
  readonly pollIntervalMs: number;
  readonly backoffInitial: number;
  readonly backoffMax: number;
  readonly timeouts: Partial<ReaderTimeouts>;
  readonly pcscSocketPath: string | undefined;
  readonly #readers = new Map<string, Controller | PcscReaderController>();

  constructor(o: ReaderManagerOptions) {
    super();
    this.clock = o.clock ?? systemClock;
    this.logger = o.logger;
    const hidOpener = o.hidOpener;
    this.transportFactory = o.transportFactory ?? ((l) => (l.link === 'hid' ? createHidTransport({ path: l.path, ...(hidOpener === undefined ? {} : { opener: hidOpener }) }) : createSerialTransport({ path: l.path })));
    this.pollIntervalMs = o.pollIntervalMs ?? 400;
    this.backoffInitial = o.backoff?.initialMs ?? 250;
    this.backoffMax = o.backoff?.maxMs ?? 10_000;
    this.timeouts = o.timeouts ?? {};
    this.pcscSocketPath = o.pcscSocketPath;
    for (const cfg of o.readers) {
      if (this.#readers.has(cfg.id)) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', `duplicate reader id ${cfg.id}`, { readerId: cfg.id });
      if (cfg.link !== 'serial' && cfg.link !== 'hid' && cfg.link !== 'pcsc') throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', `reader ${cfg.id}: link must be serial, hid or pcsc`, { readerId: cfg.id });
      this.#readers.set(cfg.id, cfg.link === 'pcsc' ? new PcscReaderController(cfg, this) : new Controller(cfg, this));
    }
  }

  start(): void {
    for (const c of this.#readers.values()) void c.connect();
  }

  status(): ReaderStatus[] {
    return [...this.#readers.values()].map((c) => c.snapshot());
  }

  withCard<T>(readerId: string, slot: number, fn: (channel: CardChannel) => Promise<T>): Promise<T> {
    const c = this.#readers.get(readerId);
    if (c === undefined) return Promise.reject(new TerminalError('TERM_ERR_READER_UNKNOWN', readerId, { readerId }));
    return c.withCard(slot, fn);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#readers.values()].map((c) => c.close()));
  }
}

/**
 * Opens every configured reader in the background (watch `reader-status`) and returns the manager.
 * @throws TerminalError `TERM_ERR_INVALID_ARGUMENT` for a duplicate id or an unknown link.
 */
export function openReaderManager(opts: ReaderManagerOptions): ReaderManager {
  const m = new Manager(opts);
  m.start();
  return m;
}
