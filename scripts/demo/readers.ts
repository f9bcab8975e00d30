/**
 * The card readers of the demo, as a person at the counter sees them: one simulated serial CCID
 * reader (GemCore SIM Pro 2, the simulator of `@onecard/simulators`) per terminal on a
 * pseudo-terminal, linked at the path the terminal's local configuration names, each with the
 * simulator's HTTP control API on 127.0.0.1 (`POST /insert {file}`, `/remove`, `/cut {ins, when}`,
 * `GET /status`). The readers live in the demo's parent process, the terminals that drive them in
 * their own `onecard-terminal run` processes.
 *
 * Cards are physical objects: a {@link CardPool} keeps one simulated card per card file (or per
 * registered name), so PIN tries and purse balances follow the card from reader to reader for the
 * life of the process. Each reader with a PSAM gets its own PSAM in slot 1.
 */
import { resolve } from 'node:path';
import { createCard, loadCardFile, openSerialReader, startControlServer, coreCut, type ControlServer, type SerialReader, type SimulatedCard, type CutPoint } from '@onecard/simulators';

/** The simulated cards of a demo or soak run, by card file path or registered name. */
export class CardPool {
  readonly #cards = new Map<string, SimulatedCard>();

  /** Registers a card built in memory under `name` (e.g. a purse with a chosen serial and balance). */
  add(name: string, card: SimulatedCard): void {
    this.#cards.set(name, card);
  }

  /** The card registered as `ref`, or the card of the file at path `ref` (loaded once). Throws SIM_ERR_CARD_FILE. */
  get(ref: string): SimulatedCard {
    const byName = this.#cards.get(ref);
    if (byName !== undefined) return byName;
    const key = resolve(ref);
    let card = this.#cards.get(key);
    if (card === undefined) {
      card = createCard(loadCardFile(key));
      this.#cards.set(key, card);
    }
    return card;
  }
}

/** A reader hosted here, and how to reach its control API. */
export interface HostedReader {
  readonly name: string;
  /** The pty link the terminal's configuration names. */
  readonly path: string;
  /** `http://127.0.0.1:PORT` of the control API. */
  readonly controlUrl: string;
  readonly reader: SerialReader;
  close(): Promise<void>;
}

export interface HostReaderOptions {
  readonly name: string;
  /** Where to link the pty slave (e.g. `<terminal dir>/reader`). */
  readonly path: string;
  readonly pool: CardPool;
  /** A PSAM card for slot 1; undefined: no PSAM in this reader (soft-SAM gate). */
  readonly psam: SimulatedCard | undefined;
}

/** Opens a simulated reader on a pty with its control API (port chosen by the system). */
export async function hostReader(o: HostReaderOptions): Promise<HostedReader> {
  const reader = openSerialReader({ model: 'gemcore-sim-pro2', slots: [undefined, o.psam], path: o.path });
  let control: ControlServer;
  try {
    control = await startControlServer({
      insert: (file, slot) => reader.insert(slot, o.pool.get(file)),
      remove: (slot) => reader.remove(slot),
      swap: (file, slot) => reader.swap(slot, o.pool.get(file)),
      cut: coreCut(reader.core),
      status: () => reader.status(),
    }, 0);
  } catch (e) {
    await reader.close();
    throw e;
  }
  return {
    name: o.name, path: o.path, controlUrl: `http://127.0.0.1:${control.port}`, reader,
    close: async () => {
      await control.close();
      await reader.close();
    },
  };
}

/** What a person does at a reader, through its control API. */
export class ReaderHand {
  constructor(readonly controlUrl: string) {}

  async #post(verb: string, body: Record<string, unknown>): Promise<void> {
    const r = await fetch(`${this.controlUrl}/${verb}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const j = (await r.json()) as { ok: boolean; error?: string };
    if (!j.ok) throw new Error(`reader ${verb}: ${j.error ?? r.status}`);
  }

  /** Puts the card `ref` (card file path or pool name) in the user slot. */
  insert(ref: string): Promise<void> { return this.#post('insert', { file: ref, slot: 0 }); }
  /** Takes the card out of the user slot (nothing if empty). */
  remove(): Promise<void> { return this.#post('remove', { slot: 0 }); }
  /** The card leaves at the next command with this INS (e.g. 0x54 DEBIT FOR PURCHASE, `during`). */
  cut(ins: number, when: CutPoint): Promise<void> { return this.#post('cut', { slot: 0, ins, when }); }
  /** Whether a card sits in the user slot. */
  async present(): Promise<boolean> {
    const r = await fetch(`${this.controlUrl}/status`);
    const j = (await r.json()) as { status?: { slots?: { present: boolean }[] } };
    return j.status?.slots?.[0]?.present === true;
  }
}
