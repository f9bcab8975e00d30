/**
 * Ingest of what terminals send: telemetry (`up/tele`, latest per terminal) and outbox batches
 * (`up/events`: events and transactions). A batch is stored in ONE store transaction (shared with
 * the batches of other terminals that arrived at the same moment: group commit), idempotent
 * on (terminalId, eventId); only after it committed does the server publish `down/ack {v,
 * upToSeq}` (and the broker's PUBACK, which waits for this handler). Loss reports made at a kiosk
 * travel as `card.loss-report` records and reach the hotlist in the same transaction, with their
 * audit entries; so do their cancellations at a counter (`card.loss-cancel`, the holder's ID
 * checked there: only that it matched is recorded, never the number), which take the card off it.
 * Desk actions name the member of staff who did them; the claim is checked against the issued
 * staff credentials and audited (`desk-staff.ts`): a cancellation without an accepted member of
 * staff is refused, PIN unblock and reload are audited as `desk.pin-*`. A record that passed the
 * fleet schema but cannot be stored or shown (see
 * `event-records.ts`) is quarantined: kept as a `quarantine.record` event, audited
 * (`event.quarantine`), counted (`onecard_events_quarantined_total`) and shown on the dashboard,
 * while the batch is acknowledged, so one poison record never stalls a terminal's uplink. A batch
 * that fails the fleet schema is salvaged the same way (`event-salvage.ts`): good records stored,
 * malformed ones with a sequence number quarantined (reason `schema`), the ack past them.
 * Admins query events with filters and paging, and export them as CSV; personal data in bodies is
 * masked unless an admin asks `?unmasked=1`, and every unmasked read is audited
 * (`personal-data.read`).
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { downTopic, encodeFleetMessage } from '@onecard/protocol/fleet';
import { ServerError } from '../errors.ts';
import type { EventFilter, EventRecord, HotlistAdd, HotlistCancel, HotlistChange, IngestBatch, IngestResult, NewAuditRecord, NewEvent } from '../store/types.ts';
import { auditEntry } from './admin.ts';
import { EVENT_LIMITS, maskEventBody, quarantineRecord, unstorableReason } from './event-records.ts';
import { isMalformed, malformedQuarantine, salvageEventsBatch, SCHEMA_REASON, type SalvagedItem } from './event-salvage.ts';
import { isCardNumber } from './hotlist.ts';
import { claimsStaff, deskAuditEntries, staffVerdicts, type StaffVerdict } from './desk-staff.ts';

/** Record type a terminal uses for a PIN-verified loss report made at a kiosk. */
export const LOSS_REPORT_TYPE = 'card.loss-report';
/** Record type a terminal uses for a loss report cancelled at a counter after the holder's ID check. */
export const LOSS_CANCEL_TYPE = 'card.loss-cancel';
/** Records whose type starts with this are transactions (journalled money movements). */
export const TRANSACTION_PREFIX = 'txn.';
/** Most terminal batches stored in one group commit. */
export const INGEST_GROUP_MAX = 64;
/** Largest CSV export in rows; narrow the filter for more. */
export const CSV_MAX_ROWS = 1_000_000;

/** The hotlist addition a loss-report body asks for, or why it is refused. */
export function lossReportOf(terminalId: string, body: Readonly<Record<string, unknown>>): HotlistAdd | string {
  if (!isCardNumber(body.cardNumber)) return 'cardNumber';
  if (body.pinVerified !== true) return 'pinVerified';
  const reason = typeof body.reason === 'string' ? body.reason.slice(0, 256) : 'reported at terminal';
  return { cardNumber: body.cardNumber, reportedBy: `terminal:${terminalId}`, source: 'terminal', reason };
}

/** The hotlist removal a loss-cancel body asks for, or why it is refused (no recorded ID check). */
export function lossCancelOf(terminalId: string, body: Readonly<Record<string, unknown>>): HotlistCancel | string {
  if (!isCardNumber(body.cardNumber)) return 'cardNumber';
  if (body.idChecked !== true) return 'idChecked';
  return { cancel: true, cardNumber: body.cardNumber, by: `terminal:${terminalId}` };
}

/** Characters that make a spreadsheet read a cell as a formula (ASCII and full-width forms). */
const FORMULA_START = /^[\s\u3000]*[=+\-@\uFF1D\uFF0B\uFF0D\uFF20]|^[\t\r]/;
/** A formula character right after a separator some spreadsheet may split on (`;` `|` tab CR LF). */
const FORMULA_AFTER_SEPARATOR = /([;|\t\r\n][\s\u3000]*)(?=[=+\-@\uFF1D\uFF0B\uFF0D\uFF20])/g;

/**
 * One CSV field [RFC 4180 §2], quoted whenever it holds a quote, a line break or any delimiter a
 * spreadsheet may be set to (`,` `;` `|` tab), so none splits it. A cell that would start a
 * formula gets a leading `'`, and so does every formula character that follows a `;`, `|`, tab
 * or line break inside the value (an importer that splits on those anyway would otherwise start a
 * new cell with it).
 */
export function csvField(value: string): string {
  let v = value.replace(FORMULA_AFTER_SEPARATOR, "$1'");
  if (FORMULA_START.test(v)) v = `'${v}`;
  return /[",;|\t\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export const CSV_HEADER = 'id,terminalId,eventId,seq,ts,type,receivedAt,body\r\n';

/** ISO 8601 for a time a date can show, else the number as it is (an export never fails on a row). */
export function csvTime(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

/** One CSV row; the body as given (callers mask it first unless full values were asked for). */
export function eventCsvRow(e: EventRecord): string {
  return `${[String(e.id), e.terminalId, e.eventId, String(e.seq), csvTime(e.ts), e.type, csvTime(e.receivedAt), JSON.stringify(e.body)].map(csvField).join(',')}\r\n`;
}

/** An event with its body masked ({@link maskEventBody}). */
export function maskedEvent(e: EventRecord): EventRecord {
  return { ...e, body: maskEventBody(e.body) };
}

interface EventQuery { terminal?: string; type?: string; typePrefix?: string; from?: number; to?: number; after?: number; limit?: number; unmasked?: '1' | 'true' | '0' | 'false' }

const eventQuerySchema = {
  type: 'object', additionalProperties: false,
  properties: {
    terminal: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
    type: { type: 'string', pattern: '^[a-z][a-z0-9_.-]{0,63}$' },
    typePrefix: { type: 'string', pattern: '^[a-z][a-z0-9_.-]{0,63}$' },
    from: { type: 'integer', minimum: 0, description: 'terminal timestamp ≥ from (ms)' },
    to: { type: 'integer', minimum: 0, description: 'terminal timestamp < to (ms)' },
    after: { type: 'integer', minimum: 0, description: 'page cursor: the `next` of the previous page' },
    limit: { type: 'integer', minimum: 1, maximum: 10000 },
    unmasked: { type: 'string', enum: ['1', 'true', '0', 'false'], description: 'full personal data (admin role only; audited as personal-data.read)' },
  },
} as const;

function toFilter(q: EventQuery): EventFilter {
  return {
    ...(q.terminal !== undefined ? { terminalId: q.terminal } : {}),
    ...(q.type !== undefined ? { type: q.type } : {}),
    ...(q.typePrefix !== undefined ? { typePrefix: q.typePrefix } : {}),
    ...(q.from !== undefined ? { from: q.from } : {}),
    ...(q.to !== undefined ? { to: q.to } : {}),
    ...(q.after !== undefined ? { afterId: q.after } : {}),
  };
}

export default async function ingestRoutes(app: FastifyInstance): Promise<void> {
  const { store, clock } = app.ctx;
  const m = app.metrics;
  m.define('onecard_events_ingested_total', 'counter', 'Outbox records stored (new, not duplicates)');
  m.define('onecard_events_duplicate_total', 'counter', 'Outbox records received again and ignored');
  m.define('onecard_loss_reports_total', 'counter', 'Loss reports from terminals by result');
  m.define('onecard_telemetry_total', 'counter', 'Telemetry messages stored');
  m.define('onecard_events_quarantined_total', 'counter', 'Outbox records that could not be stored, kept as quarantine.record events, by reason');

  // Group commit: batches of different terminals that arrive together are stored in ONE store
  // transaction (one durable commit, one fsync with synchronous=FULL), then each is acknowledged.
  // If the group fails, each batch is retried alone, so one failing batch delays only its terminal.
  const pending: { batch: IngestBatch; resolve: (r: IngestResult) => void; reject: (e: unknown) => void }[] = [];
  let flushing = false;
  const flush = async (): Promise<void> => {
    while (pending.length > 0) {
      const group = pending.splice(0, INGEST_GROUP_MAX);
      if (group.length === 1) {
        const g = group[0]!;
        await store.ingestEvents(g.batch.terminalId, g.batch.records, g.batch.receivedAt, g.batch.hotlistAdds, g.batch.audit).then(g.resolve, g.reject);
        continue;
      }
      m.inc('onecard_ingest_group_commits_total');
      try {
        const results = await store.ingestEventBatches(group.map((g) => g.batch));
        group.forEach((g, i) => g.resolve(results[i]!));
      } catch {
        for (const g of group) await store.ingestEvents(g.batch.terminalId, g.batch.records, g.batch.receivedAt, g.batch.hotlistAdds, g.batch.audit).then(g.resolve, g.reject);
      }
    }
    flushing = false;
  };
  const groupCommit = (batch: IngestBatch): Promise<IngestResult> => new Promise((resolve, reject) => {
    pending.push({ batch, resolve, reject });
    if (!flushing) {
      flushing = true;
      setImmediate(() => { void flush(); });
    }
  });
  m.define('onecard_ingest_group_commits_total', 'counter', 'Store transactions that carried the batches of several terminals');

  // One batch at a time per terminal (valid and salvaged alike), so acks leave in the order the
  // batches arrived even on a store whose commits may interleave.
  const chains = new Map<string, Promise<void>>();
  const inOrder = (terminalId: string, fn: () => Promise<void>): Promise<void> => {
    const prev = chains.get(terminalId) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.finally(() => { if (chains.get(terminalId) === tail) chains.delete(terminalId); });
    chains.set(terminalId, tail.catch(() => {}));
    return run;
  };
  app.uplink.handle('events', (terminalId, msg) => inOrder(terminalId, () => ingestBatch(terminalId, msg.records)));

  // A batch that failed the fleet schema (`event-salvage.ts`): the records that pass are stored,
  // the malformed ones with a sequence number quarantined, and the ack goes past them. With no
  // identifiable record there is nothing to acknowledge: counted, logged and alarmed, left.
  m.define('onecard_events_unreadable_total', 'counter', 'up/events payloads with no identifiable record (not acknowledged), by protocol error code');
  app.uplink.handle('events/malformed', (terminalId, value, code) => inOrder(terminalId, async () => {
    const items = value === undefined ? undefined : salvageEventsBatch(value);
    if (items !== undefined) return ingestBatch(terminalId, items);
    m.inc('onecard_events_unreadable_total', { code });
    app.log.warn({ terminalId, code }, 'unreadable outbox batch: no identifiable record, not acknowledged');
    app.fleet.emit('events-quarantined', terminalId, 0, ['unreadable']);
  }));

  const ingestBatch = async (terminalId: string, items: readonly SalvagedItem[]): Promise<void> => {
    const now = clock.now();
    const actor = `terminal:${terminalId}`;
    const records: NewEvent[] = [];
    const quarantined: { eventId: string; seq: number; type: string; reason: string }[] = [];
    let ackSeq = 0;
    for (const r of items) {
      if (isMalformed(r)) {
        const q = malformedQuarantine(r, now);
        records.push(q);
        quarantined.push({ eventId: q.eventId, seq: q.seq, type: r.type ?? '', reason: SCHEMA_REASON });
        if (r.seq !== null && r.seq > ackSeq) ackSeq = r.seq;
        continue;
      }
      if (Number.isSafeInteger(r.seq) && r.seq > ackSeq) ackSeq = r.seq;
      const reason = unstorableReason(r);
      if (reason === undefined) {
        records.push(r);
        continue;
      }
      const q = quarantineRecord(r, reason, now);
      records.push(q);
      quarantined.push({ eventId: q.eventId, seq: q.seq, type: r.type, reason });
    }
    let adds: Map<string, HotlistChange> | undefined;
    // A desk action names the member of staff signed in there; believed only for a credential
    // this server issued for the terminal's group and not revoked by then (`desk-staff.ts`).
    const verdicts = claimsStaff(records)
      ? staffVerdicts(records, await store.listStaffCredentials(), (await store.getTerminal(terminalId))?.groupId)
      : new Map<string, StaffVerdict>();
    const staffOf = new Map<string, string>();
    for (const r of records) {
      if (r.type !== LOSS_REPORT_TYPE && r.type !== LOSS_CANCEL_TYPE) continue;
      const verdict = verdicts.get(r.eventId);
      let add = r.type === LOSS_REPORT_TYPE ? lossReportOf(terminalId, r.body) : lossCancelOf(terminalId, r.body);
      // 解挂 is a staff service: without an accepted member of staff the card stays listed.
      if (r.type === LOSS_CANCEL_TYPE && typeof add !== 'string' && verdict?.ok !== true) add = 'staffId';
      if (typeof add === 'string') {
        m.inc('onecard_loss_reports_total', { result: r.type === LOSS_REPORT_TYPE ? 'refused' : 'cancel-refused' });
        app.log.warn({ terminalId, eventId: r.eventId, field: add }, r.type === LOSS_REPORT_TYPE ? 'loss report refused' : 'loss cancellation refused');
        continue;
      }
      (adds ??= new Map()).set(r.eventId, add);
      if (verdict?.ok === true) staffOf.set(add.cardNumber, verdict.staffId);
      else staffOf.delete(add.cardNumber);
    }
    // The registry refuses a cancellation that would make a replaced or cancelled card usable again.
    if (adds !== undefined && app.cardRegistry !== undefined) {
      const screened = await app.cardRegistry.screenIngest(adds);
      for (const eventId of screened.refused) {
        m.inc('onecard_loss_reports_total', { result: 'cancel-refused' });
        app.log.warn({ terminalId, eventId, field: 'registry' }, 'loss cancellation refused by the registry');
      }
      adds = screened.kept.size > 0 ? screened.kept : undefined;
    }
    // The batch, its loss reports and their audit entries (and those of quarantined records, unless
    // the whole batch is a retransmission) commit in one transaction.
    const res = await groupCommit({
      terminalId, records, receivedAt: now, ...(adds !== undefined ? { hotlistAdds: adds } : {}),
      audit: (r): NewAuditRecord[] => [
        ...(r.hotlist === null ? [] : r.hotlistOps ?? r.hotlist.changed.map((cardNumber) => ({ cardNumber, op: 'add' as const }))).map(({ cardNumber: c, op }) => ({
          ts: now, actor, action: op === 'remove' ? 'hotlist.cancel' : 'hotlist.report', target: c, ip: '',
          details: { version: r.hotlist!.version, source: 'terminal', ...(op === 'remove' ? { idChecked: true } : {}), ...(staffOf.has(c) ? { staffId: staffOf.get(c) } : {}) },
        })),
        ...(r.inserted > 0 ? quarantined.map((q) => ({ ts: now, actor, action: 'event.quarantine', target: q.eventId, ip: '', details: { reason: q.reason, type: q.type, seq: q.seq } })) : []),
        ...(r.inserted > 0 ? deskAuditEntries(records, verdicts, actor, now) : []),
      ],
    });
    m.inc('onecard_events_ingested_total', {}, res.inserted);
    if (res.duplicates > 0) m.inc('onecard_events_duplicate_total', {}, res.duplicates);
    if (res.hotlist !== null) {
      const cancelled = res.hotlistOps?.filter((o) => o.op === 'remove').length ?? 0;
      if (res.hotlist.changed.length > cancelled) m.inc('onecard_loss_reports_total', { result: 'listed' }, res.hotlist.changed.length - cancelled);
      if (cancelled > 0) m.inc('onecard_loss_reports_total', { result: 'cancelled' }, cancelled);
    }
    if (quarantined.length > 0) {
      for (const q of quarantined) m.inc('onecard_events_quarantined_total', { reason: q.reason });
      app.log.warn({ terminalId, records: quarantined }, 'unstorable outbox records quarantined');
      app.fleet.emit('events-quarantined', terminalId, quarantined.length, [...new Set(quarantined.map((q) => q.reason))]);
    }
    // Durable now: the terminal may delete its outbox up to here.
    await app.publishDown(downTopic(terminalId, 'ack'), encodeFleetMessage('ack', { v: 1, upToSeq: Math.max(res.upToSeq, ackSeq) }), false);
    // Announce the new hotlist version only AFTER the ack went out. aedes numbers every publish
    // when it starts (`brokerCounter`) and drops, per client, a packet whose number is below one
    // it already delivered; a retained publish takes an extra persistence step, so a pointer
    // started before the ack reached the broker after it and was silently dropped for the
    // reporting kiosk itself (other terminals got it). Started here, its number is higher.
    if (res.hotlist !== null) app.fleet.emit('hotlist-changed', res.hotlist.version);
    // The registry follows the loss reports and cancellations now committed (status, history, feed).
    if (res.hotlist !== null && app.cardRegistry !== undefined) {
      const ops = res.hotlistOps ?? res.hotlist.changed.map((cardNumber) => ({ cardNumber, op: 'add' as const }));
      const eventOf = new Map([...(adds ?? new Map<string, HotlistChange>())].map(([eventId, ch]) => [ch.cardNumber, eventId]));
      const corrected = await app.cardRegistry.followIngest(ops, actor, eventOf, staffOf).catch((err: unknown) => { app.log.error({ err, terminalId }, 'registry did not follow the hotlist'); return null; });
      if (corrected !== null) app.fleet.emit('hotlist-changed', corrected);
    }
  };

  m.define('onecard_telemetry_refused_total', 'counter', 'Telemetry messages dropped because a number in them cannot be stored');
  app.uplink.handle('tele', async (terminalId, msg) => {
    // Like outbox records: a value every backend can hold, or the message is dropped (counted),
    // never a store error that would close the terminal's connection again and again.
    if (!Number.isSafeInteger(msg.ts) || msg.ts < 0 || msg.ts > EVENT_LIMITS.maxTs || !Number.isSafeInteger(msg.epoch) || (msg.outbox !== undefined && !Number.isSafeInteger(msg.outbox.pending))) {
      m.inc('onecard_telemetry_refused_total');
      app.log.warn({ terminalId }, 'telemetry with unstorable numbers dropped');
      return;
    }
    m.inc('onecard_telemetry_total');
    await store.putTelemetry({
      terminalId, ts: msg.ts, receivedAt: clock.now(), epoch: msg.epoch, health: msg.health,
      readers: msg.readers, counters: msg.counters, outbox: msg.outbox ?? null,
    });
  });

  const viewers = app.requireRole('viewer', 'operator', 'key-custodian');

  /**
   * Whether this read returns full personal data: only with `unmasked=1`, only for the admin role,
   * and only once the read is audited (an audit failure refuses the read).
   * @throws ServerError `SRV_ERR_FORBIDDEN` for any other role asking for full values
   */
  const unmaskedRead = async (req: FastifyRequest<{ Querystring: EventQuery }>, what: string, filter: EventFilter): Promise<boolean> => {
    if (req.query.unmasked !== '1' && req.query.unmasked !== 'true') return false;
    if (req.admin?.role !== 'admin') throw new ServerError('SRV_ERR_FORBIDDEN', 'full personal data needs the admin role', { role: req.admin?.role, allowed: ['admin'] });
    await store.appendAudit(auditEntry(req, clock, 'personal-data.read', what, { ...filter }));
    return true;
  };

  app.get<{ Querystring: EventQuery }>('/api/v1/events', {
    preHandler: viewers,
    schema: { tags: ['events'], summary: 'Events and transactions (ascending); filter by terminal, type, type prefix (`txn.`), time; page with `after`. Personal data masked unless an admin asks `unmasked=1` (audited)', querystring: eventQuerySchema },
  }, async (req) => {
    const limit = req.query.limit ?? 100;
    const filter = toFilter(req.query);
    const full = await unmaskedRead(req, 'events', { ...filter, limit });
    const events = await store.listEvents({ ...filter, limit });
    return { events: full ? events : events.map(maskedEvent), next: events.length === limit ? events[events.length - 1]!.id : null };
  });

  app.get<{ Querystring: EventQuery }>('/api/v1/events/export.csv', {
    preHandler: viewers,
    schema: { tags: ['events'], summary: `CSV export of the filtered events (at most ${CSV_MAX_ROWS} rows; \`limit\` caps it lower)`, querystring: eventQuerySchema },
  }, async (req, reply) => {
    const filter = toFilter(req.query);
    const cap = Math.min(req.query.limit ?? CSV_MAX_ROWS, CSV_MAX_ROWS);
    const full = await unmaskedRead(req, 'events.export', filter);
    if (!full) await app.audit(req, 'events.export', 'events', { ...filter });
    const row = full ? eventCsvRow : (e: EventRecord): string => eventCsvRow(maskedEvent(e));
    async function* rows(): AsyncGenerator<string> {
      yield CSV_HEADER;
      let after = filter.afterId;
      let sent = 0;
      while (sent < cap) {
        const page = await store.listEvents({ ...filter, ...(after !== undefined ? { afterId: after } : {}), limit: Math.min(5000, cap - sent) });
        if (page.length === 0) return;
        yield page.map(row).join('');
        sent += page.length;
        after = page[page.length - 1]!.id;
      }
    }
    reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="onecard-events.csv"');
    return reply.send(Readable.from(rows()));
  });

  app.get('/api/v1/telemetry', {
    preHandler: viewers,
    schema: { tags: ['events'], summary: 'Latest telemetry of each terminal; page with `after`', querystring: { type: 'object', additionalProperties: false, properties: { after: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' }, limit: { type: 'integer', minimum: 1, maximum: 10000 } } } },
  }, async (req) => {
    const q = req.query as { after?: string; limit?: number };
    const limit = q.limit ?? 100;
    const list = await store.listTelemetry({ limit, ...(q.after !== undefined ? { afterTerminalId: q.after } : {}) });
    return { telemetry: list, next: list.length === limit ? list[list.length - 1]!.terminalId : null };
  });

  app.get<{ Params: { id: string } }>('/api/v1/terminals/:id/telemetry', {
    preHandler: viewers,
    schema: { tags: ['events'], summary: 'Latest telemetry of one terminal', params: { type: 'object', properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } } } },
  }, async (req) => {
    const tel = await store.getTelemetry(req.params.id);
    if (tel === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `telemetry of ${req.params.id}`);
    return tel;
  });
}
