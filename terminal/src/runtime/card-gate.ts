/**
 * The runtime's switchable view of the card hardware: a {@link CardAccess} over the current
 * reader manager that can be swapped for a new one (fleet configuration apply) without cutting a
 * card session short. A swap first closes the gate (new sessions wait), waits until every session
 * in progress has ended, closes the old manager, opens the new one, and reopens the gate. Card
 * events of whichever manager is current are re-emitted on one stable emitter, so WebSocket
 * subscribers of the local API survive the swap.
 */
import { EventEmitter } from 'node:events';
import type { CardAccess, CardSlotRef } from '../api/index.ts';
import type { ReaderManager } from '../card/index.ts';
import type { CardChannel } from '../card/channel.ts';
import { TerminalError } from '../errors.ts';

/** Where the user card and the PSAM are, and the manager that drives them. */
export interface CardSetup {
  readonly manager: ReaderManager;
  /** Undefined while no reader is configured (card requests are refused with `TERM_ERR_API_NOT_CONFIGURED`). */
  readonly user: CardSlotRef | undefined;
  readonly psam: CardSlotRef | undefined;
  /** Used as the PSAM when `psam` is undefined: the soft SAM over the delivered transit keys. */
  readonly softPsam?: CardChannel;
}

const FORWARDED = ['card-inserted', 'card-removed', 'reader-status'] as const;

/** A {@link CardAccess} whose readers can be replaced between sessions. */
export class CardGate implements CardAccess {
  readonly events = new EventEmitter();
  #setup: CardSetup;
  #inFlight = 0;
  #idle: (() => void)[] = [];
  #gate: Promise<void> | undefined;
  #closed = false;
  #detach: () => void;

  constructor(setup: CardSetup) {
    this.#setup = setup;
    this.#detach = this.#attach(setup.manager);
  }

  /** The current setup (manager and positions). */
  get setup(): CardSetup { return this.#setup; }
  /** Card sessions in progress. */
  get sessions(): number { return this.#inFlight; }

  #attach(m: ReaderManager): () => void {
    const handlers = FORWARDED.map((name) => {
      const h = (e: unknown): void => void this.events.emit(name, e);
      m.on(name, h);
      return [name, h] as const;
    });
    return () => { for (const [name, h] of handlers) m.off(name, h); };
  }

  status(): readonly unknown[] { return this.#setup.manager.status(); }

  /**
   * Runs `fn` with exclusive use of the user card (and the PSAM); waits while a swap is under way.
   * Rejects `TERM_ERR_RUNTIME_CLOSED` after {@link close}, and as the reader manager does.
   */
  async withCard<T>(fn: (s: { readonly card: CardChannel; readonly psam: CardChannel | undefined }) => Promise<T>): Promise<T> {
    while (this.#gate !== undefined) await this.#gate;
    if (this.#closed) throw new TerminalError('TERM_ERR_RUNTIME_CLOSED');
    const { manager, user, psam, softPsam } = this.#setup;
    if (user === undefined) throw new TerminalError('TERM_ERR_API_NOT_CONFIGURED', 'no card reader configured yet (local file or fleet configuration)', { field: 'readers' });
    this.#inFlight++;
    try {
      return await manager.withCard(user.readerId, user.slot, (card) =>
        psam === undefined ? fn({ card, psam: softPsam }) : manager.withCard(psam.readerId, psam.slot, (p) => fn({ card, psam: p })),
      );
    } finally {
      this.#inFlight--;
      if (this.#inFlight === 0) for (const r of this.#idle.splice(0)) r();
    }
  }

  /**
   * Swaps the readers: waits for the sessions in progress to end (new ones wait meanwhile),
   * closes the old manager, then takes the one `open()` builds. If `open` throws, the old setup
   * is re-opened by `reopen` (when given) and the error is rethrown.
   */
  async swap(open: () => Promise<CardSetup> | CardSetup, reopen?: () => Promise<CardSetup> | CardSetup): Promise<void> {
    while (this.#gate !== undefined) await this.#gate;
    let release!: () => void;
    this.#gate = new Promise<void>((r) => { release = r; });
    try {
      if (this.#inFlight > 0) await new Promise<void>((r) => this.#idle.push(r));
      this.#detach();
      await this.#setup.manager.close();
      let next: CardSetup;
      try {
        next = await open();
      } catch (err) {
        if (reopen !== undefined) {
          this.#setup = await reopen();
          this.#detach = this.#attach(this.#setup.manager);
        }
        throw err;
      }
      this.#setup = next;
      this.#detach = this.#attach(next.manager);
    } finally {
      this.#gate = undefined;
      release();
    }
  }

  /** Waits for sessions in progress, then closes the manager; later sessions are refused. */
  async close(): Promise<void> {
    while (this.#gate !== undefined) await this.#gate;
    this.#closed = true;
    if (this.#inFlight > 0) await new Promise<void>((r) => this.#idle.push(r));
    this.#detach();
    await this.#setup.manager.close();
  }
}
