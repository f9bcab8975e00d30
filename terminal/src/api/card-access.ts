/**
 * The local API's view of the card hardware: one user-card position and an optional PSAM
 * position, exclusive sessions on both, reader status and card events. {@link managerCardAccess}
 * adapts the reader manager; tests pass in-memory implementations.
 */
import type { EventEmitter } from 'node:events';
import type { CardChannel } from '../card/channel.ts';
import type { ReaderManager } from '../card/index.ts';

/** A card position: reader and slot. */
export interface CardSlotRef {
  readonly readerId: string;
  readonly slot: number;
}

/** What the API needs from the readers. */
export interface CardAccess {
  /**
   * Runs `fn` with exclusive use of the user card and, when configured, the PSAM.
   * Rejects `TERM_ERR_NO_CARD`, `TERM_ERR_READER_*`, link codes, or what `fn` rejects with.
   */
  withCard<T>(fn: (s: { readonly card: CardChannel; readonly psam: CardChannel | undefined }) => Promise<T>): Promise<T>;
  /** Reader status, JSON-serialisable. */
  status(): readonly unknown[];
  /** Emits `card-inserted`, `card-removed`, `reader-status` (payloads as the reader manager's). */
  readonly events: EventEmitter;
}

/** Adapts a reader manager to {@link CardAccess}. The PSAM session is opened inside the user-card session. */
export function managerCardAccess(manager: ReaderManager, user: CardSlotRef, psam?: CardSlotRef): CardAccess {
  return {
    withCard: (fn) =>
      manager.withCard(user.readerId, user.slot, (card) =>
        psam === undefined ? fn({ card, psam: undefined }) : manager.withCard(psam.readerId, psam.slot, (p) => fn({ card, psam: p })),
      ),
    status: () => manager.status(),
    events: manager,
  };
}
