/**
 * What travels between a venue's gates and the fleet server, beside the configuration: the
 * pseudonymous holder key the gates count and the server registers by, the journaled entry and
 * exit records (outbox types `venue.entry`, `venue.exit`, `venue.refused`), and the venue
 * snapshot a gate fetches (`GET /api/v1/terminal/venue`): what every *other* gate of the venue
 * counted today, and the events with their registered holders. Counting the others only, the
 * gate adds its own journal and nothing is counted twice, however late acknowledgements come.
 */
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { sm3 } from '../crypto/sm3.ts';
import { ProtocolError } from '../errors.ts';

const enc = new TextEncoder();
const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** How a holder identified themselves at the gate. */
export type VenueHolderKind = 'card' | 'ecard';

/**
 * The holder key of a venue: the first 16 bytes (32 hex digits) of SM3 over
 * `onecard-venue-holder-v1\n{venueId}\n{kind}:{id}` (`id` = the 9-character card number, or the
 * e-card's holder reference). Per venue, so keys of two venues cannot be joined; no card number
 * leaves the gate in its counts.
 */
export function venueHolderKey(venueId: string, kind: VenueHolderKind, id: string): string {
  return hex(sm3(enc.encode(`onecard-venue-holder-v1\n${venueId}\n${kind}:${id}`)).subarray(0, 16));
}

const HolderKey = Type.String({ pattern: '^[0-9a-f]{32}$' });
const LocalDate = Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' });
const Count = Type.Integer({ minimum: 0, maximum: 1_000_000_000 });

/** Body of a `venue.entry` / `venue.exit` / `venue.refused` outbox record. */
export const VenueRecordBody = Type.Object({
  venueId: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' }),
  /** Local date of the venue the record counts for. */
  date: LocalDate,
  reason: Type.String({ pattern: '^[a-z][a-z0-9-]{0,39}$' }),
  holderKey: Type.Optional(HolderKey),
  via: Type.Optional(Type.Union([Type.Literal('card'), Type.Literal('ecard'), Type.Literal('sensor')])),
  category: Type.Optional(Type.String({ maxLength: 32 })),
  priceFen: Type.Optional(Count),
  eventId: Type.Optional(Type.String({ maxLength: 64 })),
  /** Occupancy the gate knew after the decision. */
  occupancy: Type.Optional(Count),
  /** Whether the gate's venue data was current (within `maxStaleSeconds`) when it decided. */
  offline: Type.Optional(Type.Boolean()),
  code: Type.Optional(Type.String({ maxLength: 64 })),
}, { additionalProperties: true });
export type VenueRecordBodyValue = Static<typeof VenueRecordBody>;

/** One event of the venue as its gates need it. */
export const VenueSnapshotEvent = Type.Object({
  eventId: Type.String({ minLength: 1, maxLength: 64 }),
  name: Type.String({ maxLength: 128 }),
  date: LocalDate,
  capacity: Count,
  /** Holder keys registered for the event. */
  holders: Type.Array(HolderKey, { maxItems: 200_000 }),
}, { additionalProperties: false });

/** The venue snapshot a gate fetches; counts are those of every gate of the venue but the asking one. */
export const VenueSnapshot = Type.Object({
  v: Type.Literal(1),
  venueId: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' }),
  date: LocalDate,
  /** Server clock when the snapshot was taken (ms). */
  asOf: Type.Integer({ minimum: 0 }),
  others: Type.Object({
    entries: Count,
    exits: Count,
    /** Entries of the day per holder key. */
    holders: Type.Record(Type.String({ pattern: '^[0-9a-f]{32}$' }), Count, { additionalProperties: false }),
  }, { additionalProperties: false }),
  /** Events of the venue from `date` on (the next days too, so a gate that goes offline still knows them). */
  events: Type.Array(VenueSnapshotEvent, { maxItems: 64 }),
}, { additionalProperties: false });
export type VenueSnapshotValue = Static<typeof VenueSnapshot>;

const checkSnapshot = TypeCompiler.Compile(VenueSnapshot);

/** Validates a fetched snapshot. @throws ProtocolError `PROTO_ERR_FLEET_SCHEMA` (details.path) */
export function parseVenueSnapshot(value: unknown): VenueSnapshotValue {
  if (!checkSnapshot.Check(value)) {
    const first = checkSnapshot.Errors(value).First();
    const path = first?.path === undefined || first.path === '' ? '/' : first.path;
    throw new ProtocolError('PROTO_ERR_FLEET_SCHEMA', `venue snapshot ${path}: ${first?.message ?? 'invalid'}`, { kind: 'venue-snapshot', path });
  }
  return value;
}
