/**
 * The journal-file outbox. Every record is framed (length + CRC-32, see `outbox-frame.ts`),
 * appended to the active segment file and fsync'd before `append()` resolves; concurrent appends
 * share one write + fsync (group commit) and keep call order. `ack(upToSeq)` writes the ack
 * watermark atomically (temp file, fsync, rename, fsync of the directory) and then deletes fully
 * acknowledged segments. Opening recovers: every valid frame is kept, the torn tail after the
 * last valid frame of the last segment (records whose append never resolved) is cut, damaged
 * regions elsewhere are skipped and reported.
 *
 * Directory layout: `seg-<first seq, 16 digits>.log`, `ack.json`, `LOCK` (pid of the owner).
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { TerminalError } from '../errors.ts';
import { fsyncDir, removeAtomicTemps, writeFileAtomic } from '../fs/atomic.ts';
import { createEventIdGenerator } from './event-id.ts';
import { encodeFrame, readFrame, scanFrames, FRAME_HEADER_BYTES } from './outbox-frame.ts';
import { admit, checkAppendInput, resolveLimits } from './outbox-capacity.ts';
import { DEFAULT_OUTBOX_LIMITS, type AppendInput, type AppendResult, type Outbox, type OutboxLimits, type OutboxRecord, type OutboxStats } from './outbox-types.ts';

export interface FileOutboxOptions {
  /** Directory of the journal (created 0700 if missing). */
  readonly dir: string;
  readonly limits?: Partial<OutboxLimits>;
  /** Rotate to a new segment once the active one reaches this size (default 4 MiB). */
  readonly segmentBytes?: number;
  readonly clock?: () => number;
  /** Called when an append is refused or telemetry dropped because the outbox is full. */
  readonly onAlarm?: (alarm: OutboxAlarm) => void;
}

export interface OutboxAlarm {
  readonly kind: 'full' | 'telemetry-dropped';
  readonly pending: number;
  readonly pendingBytes: number;
}

/** What opening found. */
export interface RecoveryReport {
  readonly segments: number;
  readonly records: number;
  /** Bytes cut from the end of the last segment (a torn, never-acknowledged write). */
  readonly tornTailBytes: number;
  /** Regions skipped because they held no valid frame (media damage; reported, not cut). */
  readonly damaged: readonly { readonly segment: string; readonly offset: number; readonly length: number }[];
  /** Valid-looking frames dropped because their sequence number went backwards. */
  readonly outOfOrder: number;
  /** False when `ack.json` was present but unreadable (watermark fell back; the server dedups resends). */
  readonly ackFileValid: boolean;
}

interface Segment {
  readonly name: string;
  readonly path: string;
  readonly seqs: number[];
  readonly offsets: number[];
  readonly sizes: number[];
  bytes: number;
}

interface Queued {
  readonly record: OutboxRecord;
  readonly frame: Uint8Array;
  readonly resolve: (r: AppendResult) => void;
  readonly reject: (e: unknown) => void;
}

const SEGMENT_RE = /^seg-(\d{16})\.log$/;
const ACK_FILE = 'ack.json';
const LOCK_FILE = 'LOCK';

function ioError(op: string, cause: unknown): TerminalError {
  const code = typeof cause === 'object' && cause !== null && 'code' in cause ? String((cause as { code: unknown }).code) : undefined;
  return new TerminalError('TERM_ERR_OUTBOX_IO', op, code === undefined ? { op } : { op, errno: code }, { cause });
}


function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as { code?: string }).code === 'EPERM'; }
}

async function takeLock(dir: string): Promise<void> {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await fsp.open(path, 'wx', 0o600);
      try { await fh.writeFile(String(process.pid)); await fh.sync(); } finally { await fh.close(); }
      return;
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') throw ioError('lock', e);
      const pid = Number.parseInt(await fsp.readFile(path, 'utf8').catch(() => ''), 10);
      if (Number.isSafeInteger(pid) && pid > 0 && isAlive(pid)) throw new TerminalError('TERM_ERR_OUTBOX_LOCKED', `pid ${pid}`, { pid });
      await fsp.rm(path, { force: true });
    }
  }
  throw new TerminalError('TERM_ERR_OUTBOX_LOCKED', 'lock file keeps reappearing');
}

/**
 * Opens (and recovers) a journal-file outbox.
 * @throws TerminalError `TERM_ERR_OUTBOX_LOCKED`, `TERM_ERR_OUTBOX_IO`, `TERM_ERR_INVALID_ARGUMENT`
 */
export async function openFileOutbox(options: FileOutboxOptions): Promise<FileOutbox> {
  const limits = resolveLimits(DEFAULT_OUTBOX_LIMITS, options.limits);
  const segmentBytes = options.segmentBytes ?? 4 * 1024 * 1024;
  if (!Number.isSafeInteger(segmentBytes) || segmentBytes < 1) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', 'segmentBytes', { field: 'segmentBytes' });
  const dir = options.dir;
  try { await fsp.mkdir(dir, { recursive: true, mode: 0o700 }); } catch (e) { throw ioError('mkdir', e); }
  await takeLock(dir);
  try {
    return await recover(dir, limits, segmentBytes, options);
  } catch (e) {
    await fsp.rm(join(dir, LOCK_FILE), { force: true });
    throw e instanceof TerminalError ? e : ioError('recover', e);
  }
}

async function readAck(dir: string): Promise<{ upToSeq: number; valid: boolean }> {
  let text: string;
  try { text = await fsp.readFile(join(dir, ACK_FILE), 'utf8'); } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return { upToSeq: 0, valid: true };
    throw ioError('read ack', e);
  }
  try {
    const v = JSON.parse(text) as { upToSeq?: unknown };
    if (Number.isSafeInteger(v.upToSeq) && (v.upToSeq as number) >= 0) return { upToSeq: v.upToSeq as number, valid: true };
  } catch { /* fall through */ }
  return { upToSeq: 0, valid: false };
}

async function recover(dir: string, limits: OutboxLimits, segmentBytes: number, options: FileOutboxOptions): Promise<FileOutbox> {
  const ack = await readAck(dir);
  const names = (await fsp.readdir(dir)).filter((n) => SEGMENT_RE.test(n)).sort();
  await fsp.rm(join(dir, `${ACK_FILE}.tmp`), { force: true }); // the temporary name of older versions
  await removeAtomicTemps(join(dir, ACK_FILE));
  const segments: Segment[] = [];
  const damaged: { segment: string; offset: number; length: number }[] = [];
  let tornTailBytes = 0;
  let outOfOrder = 0;
  let lastSeq = 0;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const path = join(dir, name);
    const buf = new Uint8Array(await fsp.readFile(path));
    const scan = scanFrames(buf, limits.maxRecordBytes + 1024);
    const seg: Segment = { name, path, seqs: [], offsets: [], sizes: [], bytes: scan.goodEnd };
    for (const r of scan.records) {
      if (r.record.seq <= lastSeq) { outOfOrder++; continue; }
      lastSeq = r.record.seq;
      seg.seqs.push(r.record.seq);
      seg.offsets.push(r.offset);
      seg.sizes.push(r.size);
    }
    for (const d of scan.damaged) damaged.push({ segment: name, ...d });
    if (scan.goodEnd < buf.length) {
      if (i === names.length - 1) {
        // [ONECARD outbox] Only the tail after the last valid frame of the last segment can be
        // an append that never resolved; cut it so new frames follow valid ones.
        tornTailBytes = buf.length - scan.goodEnd;
        const fh = await fsp.open(path, 'r+');
        try { await fh.truncate(scan.goodEnd); await fh.sync(); } finally { await fh.close(); }
      } else {
        damaged.push({ segment: name, offset: scan.goodEnd, length: buf.length - scan.goodEnd });
        seg.bytes = buf.length;
      }
    }
    segments.push(seg);
  }
  const acked = ack.valid ? ack.upToSeq : 0;
  // Delete segments that a crash left behind after their ack was written (and empty ones).
  const kept: Segment[] = [];
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    const last = s.seqs[s.seqs.length - 1];
    const isLast = i === segments.length - 1;
    // The last segment stays even when all of it is acknowledged (see `retained`).
    if (!isLast && (last === undefined || last <= acked)) await fsp.rm(s.path, { force: true });
    else kept.push(s);
  }
  const report: RecoveryReport = { segments: names.length, records: segments.reduce((n, s) => n + s.seqs.length, 0), tornTailBytes, damaged, outOfOrder, ackFileValid: ack.valid };
  const outbox = new FileOutbox(dir, limits, segmentBytes, options, kept, Math.max(lastSeq, acked), acked, report);
  await outbox._openActive();
  return outbox;
}

/** A journal-file {@link Outbox}; obtain one with {@link openFileOutbox}. */
export class FileOutbox implements Outbox {
  /** What recovery found when this outbox was opened. */
  readonly recovery: RecoveryReport;
  readonly #dir: string;
  readonly #limits: OutboxLimits;
  readonly #segmentBytes: number;
  readonly #clock: () => number;
  readonly #onAlarm: ((a: OutboxAlarm) => void) | undefined;
  readonly #nextId: () => string;
  readonly #segments: Segment[];
  #active: { seg: Segment; fh: fsp.FileHandle } | undefined;
  #lastSeq: number;
  #durableSeq: number;
  #acked: number;
  #pendingCount = 0;
  #pendingBytes = 0;
  #queuedBytes = 0;
  #queue: Queued[] = [];
  #lock: Promise<void> = Promise.resolve();
  #flushScheduled = false;
  #failed: TerminalError | undefined;
  #closed = false;
  #dropped = 0;
  #refused = 0;
  #refusedSinceAck = false;

  /** @internal use {@link openFileOutbox} */
  constructor(dir: string, limits: OutboxLimits, segmentBytes: number, options: FileOutboxOptions, segments: Segment[], lastSeq: number, acked: number, report: RecoveryReport) {
    this.#dir = dir;
    this.#limits = limits;
    this.#segmentBytes = segmentBytes;
    this.#clock = options.clock ?? Date.now;
    this.#onAlarm = options.onAlarm;
    this.#nextId = createEventIdGenerator(this.#clock);
    this.#segments = segments;
    this.#lastSeq = lastSeq;
    this.#durableSeq = lastSeq;
    this.#acked = acked;
    this.recovery = report;
    for (const s of segments) {
      for (let i = 0; i < s.seqs.length; i++) {
        if (s.seqs[i]! > acked) { this.#pendingCount++; this.#pendingBytes += s.sizes[i]!; }
      }
    }
  }

  /** @internal */
  async _openActive(): Promise<void> {
    const last = this.#segments[this.#segments.length - 1];
    if (last !== undefined) this.#active = { seg: last, fh: await fsp.open(last.path, 'a') };
  }

  #check(): void {
    if (this.#closed) throw new TerminalError('TERM_ERR_OUTBOX_CLOSED');
    if (this.#failed !== undefined) throw this.#failed;
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn);
    this.#lock = run.then(() => undefined, () => undefined);
    return run;
  }

  append(input: AppendInput): Promise<AppendResult> {
    try {
      this.#check();
      const cls = checkAppendInput(input);
      const record: OutboxRecord = { eventId: this.#nextId(), seq: this.#lastSeq + 1, ts: Math.floor(this.#clock()), type: input.type, body: input.body };
      const frame = encodeFrame(record);
      if (frame.length - FRAME_HEADER_BYTES > this.#limits.maxRecordBytes) {
        throw new TerminalError('TERM_ERR_OUTBOX_RECORD_INVALID', `record of ${frame.length} bytes exceeds ${this.#limits.maxRecordBytes}`, { field: 'body' });
      }
      const records = this.#pendingCount + this.#queue.length;
      const bytes = this.#pendingBytes + this.#queuedBytes;
      const decision = admit(this.#limits, cls, records, bytes, frame.length);
      if (decision === 'drop') {
        this.#dropped++;
        this.#onAlarm?.({ kind: 'telemetry-dropped', pending: records, pendingBytes: bytes });
        return Promise.resolve({ status: 'dropped', reason: 'full' });
      }
      if (decision === 'refuse') {
        this.#refused++;
        this.#refusedSinceAck = true;
        this.#onAlarm?.({ kind: 'full', pending: records, pendingBytes: bytes });
        throw new TerminalError('TERM_ERR_OUTBOX_FULL', `${records} records / ${bytes} bytes pending`, { pending: records, pendingBytes: bytes });
      }
      this.#lastSeq = record.seq;
      this.#queuedBytes += frame.length;
      return new Promise<AppendResult>((resolve, reject) => {
        this.#queue.push({ record, frame, resolve, reject });
        this.#scheduleFlush();
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    void this.#exclusive(async () => {
      this.#flushScheduled = false;
      await this.#flush();
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    const total = batch.reduce((n, q) => n + q.frame.length, 0);
    this.#queuedBytes -= total;
    try {
      if (this.#failed !== undefined) throw this.#failed;
      if (this.#active === undefined || this.#active.seg.bytes >= this.#segmentBytes) await this.#rotate(batch[0]!.record.seq);
      const active = this.#active!;
      const buf = new Uint8Array(total);
      let off = 0;
      for (const q of batch) { buf.set(q.frame, off); off += q.frame.length; }
      let written = 0;
      while (written < buf.length) {
        const { bytesWritten } = await active.fh.write(buf, written, buf.length - written);
        written += bytesWritten;
      }
      await active.fh.datasync();
      let at = active.seg.bytes;
      for (const q of batch) {
        active.seg.seqs.push(q.record.seq);
        active.seg.offsets.push(at);
        active.seg.sizes.push(q.frame.length);
        at += q.frame.length;
      }
      active.seg.bytes = at;
      this.#pendingCount += batch.length;
      this.#pendingBytes += total;
      this.#durableSeq = batch[batch.length - 1]!.record.seq;
    } catch (e) {
      // The file's state is unknown after a failed write or fsync: stop, reopening recovers.
      this.#failed ??= e instanceof TerminalError ? e : ioError('append', e);
      for (const q of batch) q.reject(this.#failed);
      return;
    }
    for (const q of batch) q.resolve({ status: 'written', record: q.record });
  }

  async #rotate(firstSeq: number): Promise<void> {
    if (this.#active !== undefined) { await this.#active.fh.close(); this.#active = undefined; }
    const name = `seg-${String(firstSeq).padStart(16, '0')}.log`;
    const path = join(this.#dir, name);
    const fh = await fsp.open(path, 'a', 0o600);
    await fsyncDir(this.#dir);
    const seg: Segment = { name, path, seqs: [], offsets: [], sizes: [], bytes: 0 };
    this.#segments.push(seg);
    this.#active = { seg, fh };
  }

  pending(limit: number): Promise<readonly OutboxRecord[]> {
    try { this.#check(); } catch (e) { return Promise.reject(e); }
    return this.#exclusive(async () => {
      const out: OutboxRecord[] = [];
      const want = Math.max(0, Math.floor(limit));
      for (const seg of this.#segments) {
        if (out.length >= want) break;
        let first = 0;
        while (first < seg.seqs.length && seg.seqs[first]! <= this.#acked) first++;
        if (first >= seg.seqs.length) continue;
        const last = Math.min(seg.seqs.length, first + (want - out.length));
        const start = seg.offsets[first]!;
        const end = seg.offsets[last - 1]! + seg.sizes[last - 1]!;
        const buf = new Uint8Array(end - start);
        try {
          const fh = await fsp.open(seg.path, 'r');
          try { await fh.read(buf, 0, buf.length, start); } finally { await fh.close(); }
        } catch (e) { throw ioError('read', e); }
        for (let i = first; i < last; i++) {
          const r = readFrame(buf, seg.offsets[i]! - start, this.#limits.maxRecordBytes + 1024);
          if (r.kind !== 'record' || r.record.seq !== seg.seqs[i]) throw ioError('read', new Error(`frame at ${seg.name}:${seg.offsets[i]} changed on disk`));
          out.push(r.record);
        }
      }
      return out;
    });
  }

  retained(): Promise<readonly OutboxRecord[]> {
    try { this.#check(); } catch (e) { return Promise.reject(e); }
    return this.#exclusive(async () => {
      const out: OutboxRecord[] = [];
      for (const seg of this.#segments) {
        if (seg.seqs.length === 0) continue;
        let buf: Uint8Array;
        try { buf = new Uint8Array(await fsp.readFile(seg.path)); } catch (e) { throw ioError('read', e); }
        for (let i = 0; i < seg.seqs.length; i++) {
          const r = readFrame(buf, seg.offsets[i]!, this.#limits.maxRecordBytes + 1024);
          if (r.kind !== 'record' || r.record.seq !== seg.seqs[i]) throw ioError('read', new Error(`frame at ${seg.name}:${seg.offsets[i]} changed on disk`));
          out.push(r.record);
        }
      }
      return out;
    });
  }

  ack(upToSeq: number): Promise<void> {
    try {
      this.#check();
      if (!Number.isSafeInteger(upToSeq)) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', 'upToSeq', { field: 'upToSeq' });
    } catch (e) { return Promise.reject(e); }
    return this.#exclusive(async () => {
      const to = Math.min(upToSeq, this.#durableSeq);
      if (to <= this.#acked) return;
      try {
        await writeFileAtomic(join(this.#dir, ACK_FILE), JSON.stringify({ v: 1, upToSeq: to }), 0o600);
      } catch (e) { throw ioError('write ack', e); }
      const from = this.#acked;
      this.#acked = to;
      this.#refusedSinceAck = false;
      for (const s of this.#segments) {
        for (let i = 0; i < s.seqs.length; i++) {
          const q = s.seqs[i]!;
          if (q > from && q <= to) { this.#pendingCount--; this.#pendingBytes -= s.sizes[i]!; }
        }
      }
      // Compaction: delete every segment whose records are all acknowledged, except the active one
      // (appended to until it rotates; `retained` reads it on the next start).
      while (this.#segments.length > 0) {
        const s = this.#segments[0]!;
        const last = s.seqs[s.seqs.length - 1];
        if (last === undefined || last > to || this.#active?.seg === s) break;
        try { await fsp.rm(s.path, { force: true }); } catch (e) { throw ioError('delete segment', e); }
        this.#segments.shift();
      }
    });
  }

  stats(): OutboxStats {
    const pending = this.#pendingCount + this.#queue.length;
    const pendingBytes = this.#pendingBytes + this.#queuedBytes;
    return {
      pending, pendingBytes, lastSeq: this.#lastSeq, ackedSeq: this.#acked,
      full: this.#refusedSinceAck || pending >= this.#limits.maxRecords || pendingBytes >= this.#limits.maxBytes,
      droppedTelemetry: this.#dropped, refused: this.#refused,
    };
  }

  /** Waits for queued appends, then closes files and releases the lock. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#exclusive(() => this.#flush());
    this.#closed = true;
    await this.#exclusive(async () => {
      if (this.#active !== undefined) { await this.#active.fh.close(); this.#active = undefined; }
      await fsp.rm(join(this.#dir, LOCK_FILE), { force: true });
    });
  }
}
