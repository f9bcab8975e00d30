/**
 * The purchase journal [transit-purse §10; ONECARD]: every transit purchase is recorded as
 * "pending" durably BEFORE DEBIT FOR PURCHASE is sent, then settled once as "completed" (with the
 * TAC, the clearing proof), "not-debited" or "unknown" (left for host reconciliation). A pending
 * record is what the next tap of the same card recovers with GET TRANSACTION PROVE. The file
 * implementation is an append-only JSON-lines file: each line is the full record after the
 * change, the last line of an id wins, every append is fsync'd before the call resolves, and a
 * torn last line (crash mid-append) is cut off on open.
 */
import { randomUUID } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { TerminalError } from '../errors.ts';
import { systemClock, type Clock } from './common.ts';

/** Life cycle: `pending` → `completed` | `not-debited` | `unknown` (final). */
export type PurchaseState = 'pending' | 'completed' | 'not-debited' | 'unknown';

/** What the terminal knows before DEBIT FOR PURCHASE. */
export interface PurchaseDraft {
  /** Issuer identifier of the purse, 16 hex digits (0015 offset 0). */
  readonly issuerId: string;
  /** Application serial, 20 hex digits (0015 offsets 10–19). */
  readonly cardSerial: string;
  /** Amount in fen. */
  readonly amount: number;
  /** `06` purchase, `09` compound purchase. */
  readonly transactionType: number;
  /** The INITIALIZE FOR PURCHASE ATC (before the debit). */
  readonly atc: number;
  /** The INITIALIZE FOR PURCHASE balance, fen. */
  readonly balanceBefore: number;
  /** PSAM terminal number, 12 digits. */
  readonly terminalNumber: string;
  /** Terminal transaction serial from the PSAM MAC1 response. */
  readonly terminalSerial: number;
  /** `YYYYMMDDhhmmss` sent in DEBIT. */
  readonly dateTime: string;
  readonly keyVersion: number;
  readonly algorithm: number;
}

/** How a pending purchase ended. */
export interface PurchaseOutcome {
  readonly state: Exclude<PurchaseState, 'pending'>;
  /** TAC, 8 hex digits (completed). */
  readonly tac?: string;
  /** MAC2, 8 hex digits (completed). */
  readonly mac2?: string;
  /** Whether the PSAM verified MAC2. */
  readonly mac2Verified?: boolean;
  /** Settled by recovery on a later tap. */
  readonly recovered?: boolean;
  /** Short machine-readable reason (`debit-refused`, `prove-9406-checks-agree`, …). */
  readonly reason?: string;
  /** Card status word that decided, if any. */
  readonly sw?: number;
}

/** A journal record. */
export interface PurchaseRecord extends PurchaseDraft, Omit<PurchaseOutcome, 'state'> {
  /** Device-generated event id. */
  readonly id: string;
  /** Per-journal monotonically increasing sequence number. */
  readonly seq: number;
  readonly state: PurchaseState;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** The journal contract shared by the memory and file implementations. */
export interface PurchaseJournal {
  /** Appends a pending record; resolves once it is durable. Rejects `TERM_ERR_JOURNAL_IO`. */
  begin(draft: PurchaseDraft): Promise<PurchaseRecord>;
  /**
   * Settles a pending record; resolves once durable. `commit`, when given, is called with the
   * record exactly as it will be persisted, before it is persisted: a rejection leaves the record
   * pending (nothing is written) and rejects the settle with the same error. That is how a
   * settlement reaches the outbox before the journal calls it final, so a crash between the two
   * leaves a pending record that the next tap recovers and reports, never a settled one that was
   * never reported. Rejects `TERM_ERR_JOURNAL_STATE` when the id is unknown or already settled,
   * `TERM_ERR_JOURNAL_IO`.
   */
  settle(id: string, outcome: PurchaseOutcome, commit?: (next: PurchaseRecord) => Promise<void>): Promise<PurchaseRecord>;
  get(id: string): PurchaseRecord | undefined;
  /** Pending records, oldest first. */
  pending(): PurchaseRecord[];
  /** All records in `seq` order. */
  list(): PurchaseRecord[];
  close(): Promise<void>;
}

/** Options of the journal factories. */
export interface JournalOptions {
  readonly clock?: Clock;
  readonly newId?: () => string;
}

const FINAL = new Set<PurchaseState>(['completed', 'not-debited', 'unknown']);

/** The in-memory state machine both implementations share; `persist` makes a line durable. */
class JournalCore implements PurchaseJournal {
  readonly #records = new Map<string, PurchaseRecord>();
  readonly #clock: Clock;
  readonly #newId: () => string;
  readonly #persist: (r: PurchaseRecord) => Promise<void>;
  readonly #closeFn: () => Promise<void>;
  #seq = 0;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(opts: JournalOptions, persist: (r: PurchaseRecord) => Promise<void>, close: () => Promise<void>, initial: readonly PurchaseRecord[] = []) {
    this.#clock = opts.clock ?? systemClock;
    this.#newId = opts.newId ?? randomUUID;
    this.#persist = persist;
    this.#closeFn = close;
    for (const r of initial) {
      this.#records.set(r.id, r);
      this.#seq = Math.max(this.#seq, r.seq);
    }
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#queue.then(fn);
    this.#queue = p.catch(() => undefined);
    return p;
  }

  begin(draft: PurchaseDraft): Promise<PurchaseRecord> {
    return this.#serial(async () => {
      const now = this.#clock.now();
      const r: PurchaseRecord = { ...draft, id: this.#newId(), seq: this.#seq + 1, state: 'pending', createdAt: now, updatedAt: now };
      await this.#persist(r);
      this.#seq = r.seq;
      this.#records.set(r.id, r);
      return r;
    });
  }

  settle(id: string, outcome: PurchaseOutcome, commit?: (next: PurchaseRecord) => Promise<void>): Promise<PurchaseRecord> {
    return this.#serial(async () => {
      const cur = this.#records.get(id);
      if (cur === undefined) throw new TerminalError('TERM_ERR_JOURNAL_STATE', 'unknown record', { id });
      if (cur.state !== 'pending') throw new TerminalError('TERM_ERR_JOURNAL_STATE', `record is ${cur.state}`, { id, state: cur.state });
      if (!FINAL.has(outcome.state)) throw new TerminalError('TERM_ERR_JOURNAL_STATE', `cannot settle as ${String(outcome.state)}`, { id });
      const next: PurchaseRecord = { ...cur, ...outcome, updatedAt: this.#clock.now() };
      if (commit !== undefined) await commit(next);
      await this.#persist(next);
      this.#records.set(id, next);
      return next;
    });
  }

  get(id: string): PurchaseRecord | undefined {
    return this.#records.get(id);
  }

  pending(): PurchaseRecord[] {
    return this.list().filter((r) => r.state === 'pending');
  }

  list(): PurchaseRecord[] {
    return [...this.#records.values()].sort((a, b) => a.seq - b.seq);
  }

  close(): Promise<void> {
    return this.#serial(() => this.#closeFn());
  }
}

/** An in-memory journal (tests, and terminals that do not sell). */
export function createMemoryJournal(opts: JournalOptions = {}): PurchaseJournal {
  return new JournalCore(opts, async () => undefined, async () => undefined);
}

function checkRecord(x: unknown, line: number): PurchaseRecord {
  const o = x as Record<string, unknown> | null;
  const ok = typeof o === 'object' && o !== null && typeof o['id'] === 'string' && typeof o['seq'] === 'number' &&
    typeof o['state'] === 'string' && ['pending', 'completed', 'not-debited', 'unknown'].includes(o['state']) &&
    typeof o['cardSerial'] === 'string' && typeof o['amount'] === 'number' && typeof o['atc'] === 'number';
  if (!ok) throw new TerminalError('TERM_ERR_JOURNAL_CORRUPT', `line ${line} is not a purchase record`, { line });
  return o as unknown as PurchaseRecord;
}

/**
 * Opens (or creates) the journal file at `path`: replays its lines, cuts off a torn last line,
 * and appends with fsync from then on.
 * @throws TerminalError `TERM_ERR_JOURNAL_IO` when the file cannot be opened or repaired,
 *   `TERM_ERR_JOURNAL_CORRUPT` on a malformed complete line.
 */
export async function openFileJournal(path: string, opts: JournalOptions = {}): Promise<PurchaseJournal> {
  let fh: FileHandle;
  let text: string;
  try {
    fh = await open(path, 'a+', 0o600);
    text = await fh.readFile('utf8');
  } catch (err) {
    throw new TerminalError('TERM_ERR_JOURNAL_IO', 'cannot open', { path }, { cause: err });
  }
  const records = new Map<string, PurchaseRecord>();
  try {
    const end = text.lastIndexOf('\n') + 1;
    if (end < text.length) {
      // A crash mid-append leaves a line without its newline: it never became durable, cut it off.
      await fh.truncate(Buffer.byteLength(text.slice(0, end), 'utf8'));
      await fh.sync();
    }
    text.slice(0, end).split('\n').forEach((line, i) => {
      if (line === '') return;
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch (err) {
        throw new TerminalError('TERM_ERR_JOURNAL_CORRUPT', `line ${i + 1} is not JSON`, { line: i + 1 }, { cause: err });
      }
      const r = checkRecord(json, i + 1);
      records.set(r.id, r);
    });
  } catch (err) {
    await fh.close();
    if (err instanceof TerminalError) throw err;
    throw new TerminalError('TERM_ERR_JOURNAL_IO', 'cannot repair', { path }, { cause: err });
  }
  let closed = false;
  const persist = async (r: PurchaseRecord): Promise<void> => {
    if (closed) throw new TerminalError('TERM_ERR_JOURNAL_IO', 'journal closed', { path });
    try {
      await fh.appendFile(`${JSON.stringify(r)}\n`, 'utf8');
      await fh.sync();
    } catch (err) {
      throw new TerminalError('TERM_ERR_JOURNAL_IO', 'append failed', { path }, { cause: err });
    }
  };
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await fh.close();
  };
  return new JournalCore(opts, persist, close, [...records.values()]);
}
