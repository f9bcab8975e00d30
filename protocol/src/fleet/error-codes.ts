/** Error codes of the fleet protocol (topics and message envelopes), composed into the package registry by `src/errors.ts`. */
export const FLEET_ERRORS = {
  PROTO_ERR_FLEET_TERMINAL_ID: 'Invalid terminal id',
  PROTO_ERR_FLEET_TOPIC: 'Not a OneCard fleet topic',
  PROTO_ERR_FLEET_PAYLOAD_TOO_LARGE: 'Fleet message payload exceeds the size limit',
  PROTO_ERR_FLEET_JSON: 'Fleet message payload is not valid UTF-8 JSON',
  PROTO_ERR_FLEET_SCHEMA: 'Fleet message does not match its schema',
  PROTO_ERR_FLEET_VERSION: 'Unsupported fleet message schema version',
  PROTO_ERR_FLEET_KBPK: 'Key-block protection key derivation or key-set check value failed',
  PROTO_ERR_FLEET_SECRET: 'A configuration secret sealed for a terminal does not open (another terminal, another document value, or altered)',
} as const satisfies Record<`PROTO_ERR_${string}`, string>;
