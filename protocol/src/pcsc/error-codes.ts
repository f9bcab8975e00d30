/** Error codes of the pcsc area (pcscd's client socket protocol), composed into the package registry by `src/errors.ts`. */
export const PCSC_ERRORS = {
  PROTO_ERR_PCSC_COMMAND: 'PC/SC message: unknown command number',
  PROTO_ERR_PCSC_SIZE: 'PC/SC message: header size does not match the command body',
  PROTO_ERR_PCSC_LENGTH: 'PC/SC message: length field out of range (APDU, ATR or buffer length)',
  PROTO_ERR_PCSC_STRING: 'PC/SC message: reader name is empty, too long or not NUL-terminated',
  PROTO_ERR_PCSC_FIELD: 'PC/SC message: field value out of range',
  PROTO_ERR_PCSC_TRAILING: 'PC/SC message: bytes after the end of a fixed-size structure',
} as const satisfies Record<`PROTO_ERR_${string}`, string>;
