/** Error codes of the ccid area, composed into the package registry by `src/errors.ts`. */
export const CCID_ERRORS = {
  // CCID messages (reader-link.md §7)
  PROTO_ERR_CCID_TRUNCATED: 'CCID message shorter than its 10-byte header plus dwLength',
  PROTO_ERR_CCID_TRAILING: 'Bytes after the end of a CCID message',
  PROTO_ERR_CCID_MESSAGE_TYPE: 'Unknown or unexpected CCID bMessageType',
  PROTO_ERR_CCID_LENGTH: 'CCID dwLength not allowed for this message type',
  PROTO_ERR_CCID_RFU: 'CCID reserved (RFU) field is not zero',
  PROTO_ERR_CCID_STATUS: 'CCID bStatus uses a reserved value',
  PROTO_ERR_CCID_FIELD: 'CCID field value out of range',
  PROTO_ERR_CCID_PARAMETERS: 'Invalid CCID protocol data structure (SetParameters / Parameters)',
  PROTO_ERR_CCID_INTERRUPT: 'Malformed CCID interrupt message (NotifySlotChange / HardwareError)',
  // GemPC Twin serial framing (reader-link.md §8)
  PROTO_ERR_CCID_SERIAL_LEAD: 'Serial link: unexpected first byte of a frame',
  PROTO_ERR_CCID_SERIAL_CTRL: 'Serial link: byte after SYNC is neither ACK (06) nor NAK (15)',
  PROTO_ERR_CCID_SERIAL_NAK_LRC: 'Serial link: NAK frame LRC is not 16',
  PROTO_ERR_CCID_SERIAL_FRAME_SIZE: 'Serial link: frame size (10 + dwLength) above the link buffer',
  PROTO_ERR_CCID_SERIAL_LRC: 'Serial link: wrong LRC (strict mode)',
  PROTO_ERR_CCID_SERIAL_TOO_LONG: 'Serial link: command longer than the link buffer allows',
  PROTO_ERR_CCID_SERIAL_BYTE: 'Serial link: control byte value out of range',
  // OneCard HID link (docs/hid-link.md)
  PROTO_ERR_CCID_HID_REPORT_SIZE: 'HID link: report has the wrong size',
  PROTO_ERR_CCID_HID_REPORT_ID: 'HID link: wrong report id',
  PROTO_ERR_CCID_HID_FLAGS: 'HID link: reserved flag bits set',
  PROTO_ERR_CCID_HID_SEQUENCE: 'HID link: report out of sequence',
  PROTO_ERR_CCID_HID_MISSING_FIRST: 'HID link: continuation report without a first report',
  PROTO_ERR_CCID_HID_UNEXPECTED_FIRST: 'HID link: first report while a message was still incomplete',
  PROTO_ERR_CCID_HID_LENGTH: 'HID link: invalid payload length in a report',
  PROTO_ERR_CCID_HID_OVERFLOW: 'HID link: message longer than the maximum message length',
  PROTO_ERR_CCID_HID_PADDING: 'HID link: padding after the payload is not zero',
} as const satisfies Record<`PROTO_ERR_${string}`, string>;
