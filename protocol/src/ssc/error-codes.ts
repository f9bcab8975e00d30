/**
 * Error codes of the card application codecs (ssc, psam and purse areas), composed into the
 * package registry by `src/errors.ts`. Status words are never errors here: these codes cover only
 * malformed inputs to builders and malformed response data given to parsers.
 */
export const CARD_APP_ERRORS = {
  PROTO_ERR_SSC_PARAM: 'SSC command parameter out of range',
  PROTO_ERR_SSC_RESPONSE_LENGTH: 'SSC response data has the wrong length',
  PROTO_ERR_SSC_TLV_TRUNCATED: 'TLV data ends inside a tag, length or value',
  PROTO_ERR_SSC_TLV_MALFORMED: 'Malformed TLV data',
  PROTO_ERR_SSC_FCI: 'FCI template is missing a mandatory element',
  PROTO_ERR_SSC_ITEM_UNKNOWN: 'Unknown EF05/EF06 data item tag',
  PROTO_ERR_SSC_ITEM_LENGTH: 'Data item value has the wrong length',
  PROTO_ERR_SSC_ITEM_CHARSET: 'Data item value has characters its encoding does not allow',
  PROTO_ERR_SSC_BCD: 'Invalid BCD (cn) digits',
  PROTO_ERR_SSC_DATE: 'Invalid date or date-time',
  PROTO_ERR_SSC_GBK_UNMAPPABLE: 'Character has no GBK encoding',
  PROTO_ERR_SSC_GBK_MALFORMED: 'Bytes are not valid GBK',
  PROTO_ERR_SSC_CARD_NUMBER_FORMAT: 'Card number is not 1 letter, 7 sequence characters and a check character',
  PROTO_ERR_SSC_CARD_NUMBER_CHECK: 'Card number check character does not match',
  PROTO_ERR_SSC_SSN_FORMAT: 'Citizen ID number is malformed',
  PROTO_ERR_SSC_SSN_CHECK: 'Citizen ID check character does not match',
  PROTO_ERR_SSC_CARD_ID: 'Card identification code is malformed',
  PROTO_ERR_SSC_PIN_FORMAT: 'PIN must be 4 to 16 decimal digits',
  PROTO_ERR_SSC_NATIONAL_FORMAT: 'National interface string is malformed',
  PROTO_ERR_SSC_NATIONAL_FIELD: 'National interface field is invalid',
  PROTO_ERR_PSAM_PARAM: 'PSAM command parameter out of range',
  PROTO_ERR_PSAM_RESPONSE_LENGTH: 'PSAM response data has the wrong length',
  PROTO_ERR_PURSE_PARAM: 'Purse command parameter out of range',
  PROTO_ERR_PURSE_RESPONSE_LENGTH: 'Purse response data has the wrong length',
} as const satisfies Record<`PROTO_ERR_${string}`, string>;
