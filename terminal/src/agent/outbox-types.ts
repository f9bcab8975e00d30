/**
 * The outbox contract: an append-only, ordered store of events and transactions waiting for the
 * fleet server's `down/ack {upToSeq}`. The journal-file implementation (`outbox.ts`) and the
 * in-memory one (`memory-outbox.ts`) both satisfy it and run one shared conformance suite.
 */

/** A journaled record, exactly as sent in an `up/events` batch. */
export interface OutboxRecord {
  /** Time-ordered unique id (26 Crockford base32 characters); the server dedups on it. */
  readonly eventId: string;
  /** Monotonic sequence number, starting at 1, never reused (also across compaction). */
  readonly seq: number;
  /** Milliseconds since the Unix epoch when the record was appended. */
  readonly ts: number;
  /** Event type, `^[a-z][a-z0-9_.-]{0,63}$`, e.g. `card.read`, `transit.purchase`. */
  readonly type: string;
  readonly body: Readonly<Record<string, unknown>>;
}

/**
 * Durability class. `transaction` and `event` are never dropped: when the outbox is full their
 * append rejects with `TERM_ERR_OUTBOX_FULL`. `telemetry` may be dropped (and counted) when the
 * outbox is above its telemetry share, so it never takes the room transactions need.
 */
export type OutboxClass = 'transaction' | 'event' | 'telemetry';

export interface AppendInput {
  readonly type: string;
  readonly body: Readonly<Record<string, unknown>>;
  /** Default `event`. */
  readonly class?: OutboxClass;
}

export type AppendResult =
  | { readonly status: 'written'; readonly record: OutboxRecord }
  | { readonly status: 'dropped'; readonly reason: 'full' };

export interface OutboxLimits {
  /** Unacknowledged records at most (default 100 000). */
  readonly maxRecords: number;
  /** Unacknowledged framed bytes at most (default 64 MiB). */
  readonly maxBytes: number;
  /** Telemetry is dropped once usage reaches this fraction of either limit (default 0.8). */
  readonly telemetryShare: number;
  /** Largest encoded record (default 64 KiB). */
  readonly maxRecordBytes: number;
}

export const DEFAULT_OUTBOX_LIMITS: OutboxLimits = {
  maxRecords: 100_000,
  maxBytes: 64 * 1024 * 1024,
  telemetryShare: 0.8,
  maxRecordBytes: 64 * 1024,
};

export interface OutboxStats {
  /** Records journaled and not yet acknowledged. */
  readonly pending: number;
  readonly pendingBytes: number;
  /** Highest sequence number assigned so far (0 when none). */
  readonly lastSeq: number;
  /** Acknowledgement watermark. */
  readonly ackedSeq: number;
  /** True while a transaction append would be refused. */
  readonly full: boolean;
  /** Telemetry records dropped since open. */
  readonly droppedTelemetry: number;
  /** Appends refused with `TERM_ERR_OUTBOX_FULL` since open. */
  readonly refused: number;
}

export interface Outbox {
  /**
   * Journals a record. Resolves only once the record is durable (for the file outbox: written
   * and fsync'd), so the caller may then report success to the cardholder.
   * @throws TerminalError `TERM_ERR_OUTBOX_FULL` (transaction/event when full),
   *   `TERM_ERR_OUTBOX_RECORD_INVALID`, `TERM_ERR_OUTBOX_CLOSED`, `TERM_ERR_OUTBOX_IO`
   */
  append(input: AppendInput): Promise<AppendResult>;
  /** Up to `limit` unacknowledged records, in sequence order, starting with the oldest. */
  pending(limit: number): Promise<readonly OutboxRecord[]>;
  /**
   * Every record still held, acknowledged or not, in sequence order. The file outbox keeps its
   * last segment after all its records are acknowledged, so what was appended just before a crash
   * is found here on the next start even if the server had already acknowledged it (the runtime
   * settles interrupted purchases from it, see `settleFromOutbox`).
   * @throws TerminalError `TERM_ERR_OUTBOX_CLOSED`, `TERM_ERR_OUTBOX_IO`
   */
  retained(): Promise<readonly OutboxRecord[]>;
  /**
   * Marks every record with `seq <= upToSeq` acknowledged and compacts. Acks at or below the
   * watermark are no-ops; acks above `lastSeq` are clamped to it.
   * @throws TerminalError `TERM_ERR_OUTBOX_CLOSED`, `TERM_ERR_OUTBOX_IO`
   */
  ack(upToSeq: number): Promise<void>;
  stats(): OutboxStats;
  close(): Promise<void>;
}
