/** Error codes of the SIP2 codec and client state machine, composed into the package registry by `src/errors.ts`. */
export const SIP2_ERRORS = {
  PROTO_ERR_SIP2_FRAME: 'SIP2 message is malformed (message code, field separator or field identifier)',
  PROTO_ERR_SIP2_TOO_LONG: 'SIP2 message exceeds the length limit without a carriage return',
  PROTO_ERR_SIP2_UNKNOWN_MESSAGE: 'SIP2 message code is not one this profile knows',
  PROTO_ERR_SIP2_FIXED_FIELD: 'SIP2 fixed-length field is missing or has a value its definition does not allow',
  PROTO_ERR_SIP2_FIELD_VALUE: 'SIP2 variable-length field value contains a separator or control character',
  PROTO_ERR_SIP2_CHECKSUM: 'SIP2 checksum (AZ) is missing, malformed or does not match the message',
  PROTO_ERR_SIP2_SEQUENCE: 'SIP2 sequence number (AY) is missing or not a single digit',
  PROTO_ERR_SIP2_CHARSET: 'SIP2 text cannot be encoded or decoded in the configured character set',
  PROTO_ERR_SIP2_STATE: 'SIP2 client is not in a state that allows this event',
  PROTO_ERR_SIP2_TIMEOUT: 'SIP2 response did not arrive within the timeout after every retry',
  PROTO_ERR_SIP2_RESPONSE: 'SIP2 response is not the answer to the request in flight',
} as const satisfies Record<`PROTO_ERR_${string}`, string>;
