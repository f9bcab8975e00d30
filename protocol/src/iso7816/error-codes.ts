/** Error codes of the iso7816 area (and shared byte helpers), composed into the package registry by `src/errors.ts`. */
export const ISO7816_ERRORS = {
  PROTO_ERR_HEX: 'Malformed hex string',
  // Command / response APDUs [7816-4 §5.1]
  PROTO_ERR_APDU_TOO_SHORT: 'Command APDU shorter than its 4-byte header',
  PROTO_ERR_APDU_FIELD: 'Command APDU header byte out of range (CLA, INS, P1 or P2 not 0..255, or CLA FF)',
  PROTO_ERR_APDU_LC_MISMATCH: 'Command APDU body shorter than its Lc announces',
  PROTO_ERR_APDU_LENGTH: 'Malformed command APDU length field (extended/short mix, zero extended Lc, lone 00)',
  PROTO_ERR_APDU_TRAILING: 'Bytes after the end of the command APDU',
  PROTO_ERR_APDU_LE_RANGE: 'Le (Ne) out of range: must be an integer 1..256 short or 1..65536 extended',
  PROTO_ERR_APDU_DATA_LENGTH: 'Command data too long for the chosen encoding (Nc > 255 short, > 65535 extended) or empty data given',
  PROTO_ERR_APDU_CLA: 'Class byte cannot carry the requested logical channel, chaining or secure-messaging setting',
  PROTO_ERR_RAPDU_TOO_SHORT: 'Response APDU shorter than its 2-byte status word',
  PROTO_ERR_SW_RANGE: 'Status word out of range (must be an integer 0000..FFFF)',
  // BER-TLV [7816-4 §5.2]
  PROTO_ERR_TLV_TRUNCATED: 'BER-TLV input ends inside a tag, length or value (need more bytes)',
  PROTO_ERR_TLV_TAG: 'Malformed BER-TLV tag (00/FF where a tag is expected, more than 4 tag bytes, leading 80 subsequent byte, or bad tag number)',
  PROTO_ERR_TLV_LENGTH: 'Malformed BER-TLV length (more than 4 length bytes or a value too long to encode)',
  PROTO_ERR_TLV_INDEFINITE_LENGTH: 'BER-TLV indefinite length (80) is not allowed',
  PROTO_ERR_TLV_OVERRUN: 'BER-TLV child object runs past the end of its constructed parent',
  PROTO_ERR_TLV_DEPTH: 'BER-TLV nesting deeper than the configured maximum',
  PROTO_ERR_TLV_TRAILING: 'Bytes after the end of the BER-TLV object',
  PROTO_ERR_TLV_CONSTRUCTED: 'BER-TLV node children/value do not match the constructed bit of its tag',
  // SIMPLE-TLV [7816-4 §5.2.1]
  PROTO_ERR_STLV_TRUNCATED: 'SIMPLE-TLV input ends inside a tag, length or value (need more bytes)',
  PROTO_ERR_STLV_TAG: 'SIMPLE-TLV tag 00 or FF (invalid) or not a byte',
  PROTO_ERR_STLV_LENGTH: 'SIMPLE-TLV value longer than 65535 bytes',
  PROTO_ERR_STLV_TRAILING: 'Bytes after the end of the SIMPLE-TLV object',
  // APDU exchange rules [7816-3 §10, §12.2; 7816-4 §5.1]
  PROTO_ERR_EXCHANGE_ROUNDS: 'Too many GET RESPONSE rounds in one exchange',
  PROTO_ERR_EXCHANGE_TOO_LONG: 'Accumulated response data exceeds the configured maximum',
  PROTO_ERR_EXCHANGE_FINISHED: 'Exchange already finished; no response expected',
  PROTO_ERR_EXCHANGE_TOO_LARGE: 'Command data exceeds the maximum command size and neither extended length nor chaining is allowed',
  PROTO_ERR_EXCHANGE_T0_INS: 'INS with high nibble 6 or 9 cannot be sent over T=0',
  PROTO_ERR_EXCHANGE_OPTION: 'Invalid exchange option',
} as const satisfies Record<`PROTO_ERR_${string}`, string>;
