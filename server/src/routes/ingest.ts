/**
 * Ingest of what terminals send: telemetry (`up/tele`, latest per terminal) and outbox batches
 * (`up/events`: events and transactions). A batch is stored in ONE store transaction, idempotent
 * on (terminalId, eventId); only after it committed does the server publish `down/ack {v,
 * upToSeq}` (and the broker's PUBACK, which waits for this handler). Loss reports made at a kiosk
 * travel as `card.loss-report` records and reach the hotlist in the same transaction. Admins query
 * events with filters and paging, and export them as CSV.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { downTopic, encodeFleetMessage, type FleetMessage } from '@onecard/protocol/fleet';
import { ServerError } from '../errors.ts';
import type { EventFilter, EventRecord, HotlistAdd } from '../store/types.ts';
import { isCardNumber } from './hotlist.ts';

/** Record type a terminal uses for a PIN-verified loss report made at a kiosk. */
export const LOSS_REPORT_TYPE = 'card.loss-report';
/** Records whose type starts with this are transactions (journalled money movements). */
export const TRANSACTION_PREFIX = 'txn.';
/** Largest CSV export in rows; narrow the filter for more. */
export const CSV_MAX_ROWS = 1_000_000;

/** The hotlist addition a loss-report body asks for, or why it is refused. */
export function lossReportOf(terminalId: string, body: Readonly<Record<string, unknown>>): HotlistAdd | string {
  if (!isCardNumber(body.cardNumber)) return 'cardNumber';
  if (body.pinVerified !== true) return 'pinVerified';
  const reason = typeof body.reason === 'string' ? body.reason.slice(0, 256) : 'reported at terminal';
  return { cardNumber: body.cardNumber, reportedBy: `terminal:${terminalId}`, source: 'terminal', reason };
}

/** One CSV field [RFC 4180 §2]; cells that a spreadsheet would run as a formula get a leading `'`. */
export function csvField(value: string): string {
  const v = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export const CSV_HEADER = 'id,terminalId,eventId,seq,ts,type,receivedAt,body\r\n';

export function eventCsvRow(e: EventRecord): string {
  return `${[String(e.id), e.terminalId, e.eventId, String(e.seq), new Date(e.ts).toISOString(), e.type, new Date(e.receivedAt).toISOString(), JSON.stringify(e.body)].map(csvField).join(',')}\r\n`;
}

interface EventQuery { terminal?: string; type?: string; typePrefix?: string; from?: number; to?: number; after?: number; limit?: number }

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

  // One batch at a time per terminal, so acks leave in the order the batches arrived even on a
  // store whose commits may interleave.
  const chains = new Map<string, Promise<void>>();
  app.uplink.handle('events', (terminalId, msg) => {
    const prev = chains.get(terminalId) ?? Promise.resolve();
    const run = prev.then(() => ingestBatch(terminalId, msg), () => ingestBatch(terminalId, msg));
    const tail = run.finally(() => { if (chains.get(terminalId) === tail) chains.delete(terminalId); });
    chains.set(terminalId, tail.catch(() => {}));
    return run;
  });

  const ingestBatch = async (terminalId: string, msg: FleetMessage<'events'>): Promise<void> => {
    let adds: Map<string, HotlistAdd> | undefined;
    for (const r of msg.records) {
      if (r.type !== LOSS_REPORT_TYPE) continue;
      const add = lossReportOf(terminalId, r.body);
      if (typeof add === 'string') {
        m.inc('onecard_loss_reports_total', { result: 'refused' });
        app.log.warn({ terminalId, eventId: r.eventId, field: add }, 'loss report refused');
        continue;
      }
      (adds ??= new Map()).set(r.eventId, add);
    }
    const res = await store.ingestEvents(terminalId, msg.records, clock.now(), adds);
    m.inc('onecard_events_ingested_total', {}, res.inserted);
    if (res.duplicates > 0) m.inc('onecard_events_duplicate_total', {}, res.duplicates);
    if (res.hotlist !== null) {
      m.inc('onecard_loss_reports_total', { result: 'listed' }, res.hotlist.changed.length);
      const now = clock.now();
      for (const c of res.hotlist.changed) {
        await store.appendAudit({ ts: now, actor: `terminal:${terminalId}`, action: 'hotlist.report', target: c, ip: '', details: { version: res.hotlist.version, source: 'terminal' } });
      }
    }
    // Durable now: the terminal may delete its outbox up to here.
    await app.publishDown(downTopic(terminalId, 'ack'), encodeFleetMessage('ack', { v: 1, upToSeq: res.upToSeq }), false);
    // Announce the new hotlist version only AFTER the ack went out. aedes numbers every publish
    // when it starts (`brokerCounter`) and drops, per client, a packet whose number is below one
    // it already delivered; a retained publish takes an extra persistence step, so a pointer
    // started before the ack reached the broker after it and was silently dropped for the
    // reporting kiosk itself (other terminals got it). Started here, its number is higher.
    if (res.hotlist !== null) app.fleet.emit('hotlist-changed', res.hotlist.version);
  };

  app.uplink.handle('tele', async (terminalId, msg) => {
    m.inc('onecard_telemetry_total');
    await store.putTelemetry({
      terminalId, ts: msg.ts, receivedAt: clock.now(), epoch: msg.epoch, health: msg.health,
      readers: msg.readers, counters: msg.counters, outbox: msg.outbox ?? null,
    });
  });

  const viewers = app.requireRole('viewer', 'operator', 'key-custodian');

  app.get<{ Querystring: EventQuery }>('/api/v1/events', {
    preHandler: viewers,
    schema: { tags: ['events'], summary: 'Events and transactions (ascending); filter by terminal, type, type prefix (`txn.`), time; page with `after`', querystring: eventQuerySchema },
  }, async (req) => {
    const limit = req.query.limit ?? 100;
    const events = await store.listEvents({ ...toFilter(req.query), limit });
    return { events, next: events.length === limit ? events[events.length - 1]!.id : null };
  });

  app.get<{ Querystring: EventQuery }>('/api/v1/events/export.csv', {
    preHandler: viewers,
    schema: { tags: ['events'], summary: `CSV export of the filtered events (at most ${CSV_MAX_ROWS} rows; \`limit\` caps it lower)`, querystring: eventQuerySchema },
  }, async (req, reply) => {
    const filter = toFilter(req.query);
    const cap = Math.min(req.query.limit ?? CSV_MAX_ROWS, CSV_MAX_ROWS);
    await app.audit(req, 'events.export', 'events', { ...filter });
    async function* rows(): AsyncGenerator<string> {
      yield CSV_HEADER;
      let after = filter.afterId;
      let sent = 0;
      while (sent < cap) {
        const page = await store.listEvents({ ...filter, ...(after !== undefined ? { afterId: after } : {}), limit: Math.min(5000, cap - sent) });
        if (page.length === 0) return;
        yield page.map(eventCsvRow).join('');
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
