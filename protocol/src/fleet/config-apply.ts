/**
 * When each field of the terminal configuration document takes effect, as one table: `live`
 * (at once, between two requests), `session-end` (once the card session in progress has ended),
 * or `restart` (the terminal restarts its runtime between card sessions). The terminal applies a
 * document by this table and reports, per changed field, what took effect and when
 * (`up/config/status` `changes`); a test walks the schema and fails for any field the table does
 * not classify. Arrays are one field (`/readers`, `/api/allowedOrigins`).
 */
import type { TObject, TSchema } from '@sinclair/typebox';
import { TerminalConfig, type TerminalConfigDocument } from './config-schema.ts';

/** When a changed field takes effect. */
export type ConfigApplyClass = 'live' | 'session-end' | 'restart';
export const CONFIG_APPLY_CLASSES: readonly ConfigApplyClass[] = ['live', 'session-end', 'restart'];

export interface ConfigFieldApply {
  readonly class: ConfigApplyClass;
  /** What the terminal does with the value (for operators and docs). */
  readonly effect: string;
}

/** Every field of {@link TerminalConfig}, by JSON pointer. */
export const CONFIG_FIELD_APPLY = {
  '/v': { class: 'live', effect: 'schema version; checked when the document is validated' },
  '/name': { class: 'live', effect: 'operators\' label; logged with the version it was applied under' },
  '/readers': { class: 'session-end', effect: 'reader manager re-opened on the new readers once the card session in progress has ended' },
  '/services/identity': { class: 'live', effect: 'basic-information reads refused with TERM_ERR_SERVICE_DISABLED when off' },
  '/services/pin': { class: 'live', effect: 'PIN status, verify and change refused with TERM_ERR_SERVICE_DISABLED when off' },
  '/services/ecardQr': { class: 'live', effect: 'e-card QR verification (local API and scanners) refused with TERM_ERR_SERVICE_DISABLED when off' },
  '/services/transit': { class: 'live', effect: 'transit purchases refused with TERM_ERR_SERVICE_DISABLED when off' },
  '/api/allowedOrigins': { class: 'restart', effect: 'local API rebuilt with these browser origins added to the local file\'s' },
  '/api/hisCompat': { class: 'live', effect: 'card reads with format ireadcardbas refused with TERM_ERR_SERVICE_DISABLED when off' },
  '/hotlist/refreshIntervalSeconds': { class: 'live', effect: 'hotlist poll timer re-armed with this period' },
  '/hotlist/maxStaleSeconds': { class: 'live', effect: 'transit purchases refused with TERM_ERR_HOTLIST_STALE once the hotlist was last confirmed current longer ago' },
  '/upload/intervalSeconds': { class: 'live', effect: 'outbox flush timer re-armed with this period' },
  '/upload/batchSize': { class: 'live', effect: 'records per up/events batch from the next batch on' },
  '/upload/maxOutboxRecords': { class: 'restart', effect: 'outbox re-opened with this record limit' },
  '/telemetry/intervalSeconds': { class: 'live', effect: 'up/tele timer re-armed with this period' },
  '/logLevel': { class: 'live', effect: 'logger level set' },
  '/venues/venueId': { class: 'live', effect: 'venue gate counts, registrations and journal records keyed by this venue' },
  '/venues/name': { class: 'live', effect: 'venue label shown by the gate status' },
  '/venues/timeZone': { class: 'live', effect: 'local dates and hours of the next decision' },
  '/venues/hours': { class: 'live', effect: 'opening hours of the next decision' },
  '/venues/closedDates': { class: 'live', effect: 'closed days of the next decision' },
  '/venues/maxDailyEntries': { class: 'live', effect: 'entries per holder per day from the next decision' },
  '/venues/capacity': { class: 'live', effect: 'capacity from the next decision' },
  '/venues/priceFen': { class: 'live', effect: 'standard fare from the next decision' },
  '/venues/categories': { class: 'live', effect: 'fare categories from the next decision' },
  '/venues/registeredOnlyDates': { class: 'live', effect: 'registered-only days from the next decision' },
  '/venues/accept/generations': { class: 'live', effect: 'card generations admitted from the next decision' },
  '/venues/accept/cardTypes': { class: 'live', effect: 'card types admitted from the next decision' },
  '/venues/accept/ecard': { class: 'live', effect: 'e-card QR codes admitted or refused from the next decision' },
  '/venues/syncIntervalSeconds': { class: 'live', effect: 'venue snapshot poll timer re-armed with this period' },
  '/venues/maxStaleSeconds': { class: 'live', effect: 'capacity and registered-only decisions refused once the venue snapshot is older' },
  '/library/host': { class: 'live', effect: 'library SIP2 link re-opened to this host from the next request' },
  '/library/port': { class: 'live', effect: 'library SIP2 link re-opened to this port from the next request' },
  '/library/institutionId': { class: 'live', effect: 'institution id (AO) of the next SIP2 request' },
  '/library/user': { class: 'live', effect: 'library SIP2 link re-opened and logged in as this user' },
  '/library/password': { class: 'live', effect: 'library SIP2 link re-opened and logged in with this password' },
  '/library/location': { class: 'live', effect: 'location (CP, AP) of the next SIP2 login and checkin' },
  '/library/charset': { class: 'live', effect: 'library SIP2 link re-opened with this character set' },
  '/library/errorDetection': { class: 'live', effect: 'library SIP2 link re-opened with or without AY/AZ' },
  '/library/timeoutMs': { class: 'live', effect: 'SIP2 response timeout from the next request' },
  '/library/maxRetries': { class: 'live', effect: 'SIP2 retransmissions from the next request' },
  '/library/gate': { class: 'live', effect: 'library gate admissions refused with TERM_ERR_SERVICE_DISABLED when off' },
  '/library/loanDesk': { class: 'live', effect: 'library checkout, renew and checkin refused with TERM_ERR_SERVICE_DISABLED when off' },
} as const satisfies Readonly<Record<string, ConfigFieldApply>>;

export type ConfigField = keyof typeof CONFIG_FIELD_APPLY;

/** The fields of a document schema: object properties recursively, arrays and scalars as leaves. */
export function configSchemaFields(schema: TSchema = TerminalConfig, prefix = ''): string[] {
  if (schema.type === 'object' && (schema as TObject).properties !== undefined) {
    return Object.entries((schema as TObject).properties).flatMap(([k, s]) => configSchemaFields(s, `${prefix}/${k}`));
  }
  return [prefix];
}

const valueAt = (doc: unknown, field: string): unknown =>
  field.split('/').slice(1).reduce<unknown>((o, k) => (typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[k] : undefined), doc);

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** One field that differs between two documents, with its class. */
export interface ConfigFieldChange {
  readonly field: ConfigField;
  readonly class: ConfigApplyClass;
}

/**
 * The fields whose values differ between `previous` and `next` (every field when there is no
 * previous document), in table order.
 */
export function changedConfigFields(previous: TerminalConfigDocument | undefined, next: TerminalConfigDocument): ConfigFieldChange[] {
  const out: ConfigFieldChange[] = [];
  for (const [field, a] of Object.entries(CONFIG_FIELD_APPLY) as [ConfigField, ConfigFieldApply][]) {
    if (previous === undefined || !same(valueAt(previous, field), valueAt(next, field))) out.push({ field, class: a.class });
  }
  return out;
}

/** The value of a field of a document (`undefined` when absent). */
export function configFieldValue(doc: TerminalConfigDocument, field: ConfigField): unknown {
  return valueAt(doc, field);
}
