/**
 * In-memory outbox: the same contract, admission rule and sequencing as the journal-file outbox,
 * without durability. Used by tests of the fleet agent and by tools that need no persistence.
 */
import { TerminalError } from '../errors.ts';
import { createEventIdGenerator } from './event-id.ts';
import { encodeFrame } from './outbox-frame.ts';
import { admit, checkAppendInput, resolveLimits } from './outbox-capacity.ts';
import { DEFAULT_OUTBOX_LIMITS, type AppendInput, type AppendResult, type Outbox, type OutboxLimits, type OutboxRecord, type OutboxStats } from './outbox-types.ts';

export interface MemoryOutboxOptions {
  readonly limits?: Partial<OutboxLimits>;
  readonly clock?: () => number;
}

/** An in-memory {@link Outbox}. */
export class MemoryOutbox implements Outbox {
  readonly #limits: OutboxLimits;
  readonly #clock: () => number;
  readonly #nextId: () => string;
  #records: { record: OutboxRecord; size: number }[] = [];
  #bytes = 0;
  #lastSeq = 0;
  #acked = 0;
  #dropped = 0;
  #refused = 0;
  #refusedSinceAck = false;
  #closed = false;

  constructor(options: MemoryOutboxOptions = {}) {
    this.#limits = resolveLimits(DEFAULT_OUTBOX_LIMITS, options.limits);
    this.#clock = options.clock ?? Date.now;
    this.#nextId = createEventIdGenerator(this.#clock);
  }

  async append(input: AppendInput): Promise<AppendResult> {
    if (this.#closed) throw new TerminalError('TERM_ERR_OUTBOX_CLOSED');
    const cls = checkAppendInput(input);
    const record: OutboxRecord = { eventId: this.#nextId(), seq: this.#lastSeq + 1, ts: Math.floor(this.#clock()), type: input.type, body: structuredClone(input.body) };
    const size = encodeFrame(record).length;
    if (size - 10 > this.#limits.maxRecordBytes) throw new TerminalError('TERM_ERR_OUTBOX_RECORD_INVALID', `record of ${size} bytes exceeds ${this.#limits.maxRecordBytes}`, { field: 'body' });
    const decision = admit(this.#limits, cls, this.#records.length, this.#bytes, size);
    if (decision === 'drop') { this.#dropped++; return { status: 'dropped', reason: 'full' }; }
    if (decision === 'refuse') {
      this.#refused++;
      this.#refusedSinceAck = true;
      throw new TerminalError('TERM_ERR_OUTBOX_FULL', `${this.#records.length} records / ${this.#bytes} bytes pending`, { pending: this.#records.length, pendingBytes: this.#bytes });
    }
    this.#lastSeq = record.seq;
    this.#records.push({ record, size });
    this.#bytes += size;
    return { status: 'written', record };
  }

  async pending(limit: number): Promise<readonly OutboxRecord[]> {
    if (this.#closed) throw new TerminalError('TERM_ERR_OUTBOX_CLOSED');
    return this.#records.slice(0, Math.max(0, Math.floor(limit))).map((r) => structuredClone(r.record));
  }

  /** A memory outbox does not outlive its process: what it retains is what is unacknowledged. */
  async retained(): Promise<readonly OutboxRecord[]> {
    if (this.#closed) throw new TerminalError('TERM_ERR_OUTBOX_CLOSED');
    return this.#records.filter((r) => r.record.seq > this.#acked).map((r) => structuredClone(r.record));
  }

  async ack(upToSeq: number): Promise<void> {
    if (this.#closed) throw new TerminalError('TERM_ERR_OUTBOX_CLOSED');
    if (!Number.isSafeInteger(upToSeq)) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', 'upToSeq', { field: 'upToSeq' });
    const to = Math.min(upToSeq, this.#lastSeq);
    if (to <= this.#acked) return;
    this.#acked = to;
    while (this.#records.length > 0 && this.#records[0]!.record.seq <= to) this.#bytes -= this.#records.shift()!.size;
    this.#refusedSinceAck = false;
  }

  stats(): OutboxStats {
    return {
      pending: this.#records.length, pendingBytes: this.#bytes, lastSeq: this.#lastSeq, ackedSeq: this.#acked,
      full: this.#refusedSinceAck || this.#records.length >= this.#limits.maxRecords || this.#bytes >= this.#limits.maxBytes,
      droppedTelemetry: this.#dropped, refused: this.#refused,
    };
  }

  async close(): Promise<void> { this.#closed = true; }
}
