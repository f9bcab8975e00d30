/**
 * A simple in-memory hotlist fed by the fleet agent: a `Set` of upper-cased card numbers with a
 * version, applying deltas only on their base version. It satisfies the card services' `Hotlist`
 * shape (`version`, `has`). (A compact structure for millions of entries belongs to the hotlist
 * area; this one is for terminals with modest lists and for tests.)
 */
import { TerminalError } from '../errors.ts';
import type { HotlistUpdate } from './fleet-http.ts';
import type { HotlistSink } from './fleet-agent.ts';

export class SetHotlist implements HotlistSink {
  #version = 0;
  #cards = new Set<string>();
  get version(): number { return this.#version; }
  get size(): number { return this.#cards.size; }
  has(cardNumber: string): boolean { return this.#cards.has(cardNumber.toUpperCase()); }

  /** @throws TerminalError `TERM_ERR_INVALID_ARGUMENT` for a delta on another base version */
  async apply(u: HotlistUpdate): Promise<void> {
    if (u.kind === 'full') {
      this.#cards = new Set(u.cards.map((c) => c.toUpperCase()));
      this.#version = u.version;
      return;
    }
    if (u.fromVersion !== this.#version) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', `delta from ${u.fromVersion} on ${this.#version}`, { field: 'fromVersion' });
    for (const c of u.remove) this.#cards.delete(c.toUpperCase());
    for (const c of u.add) this.#cards.add(c.toUpperCase());
    this.#version = u.version;
  }
}
