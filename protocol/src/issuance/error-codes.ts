/** Error codes of the issuance area (issuance commands, update-key sequence, CA applet, card-issuing device codec), composed into the package registry by `src/errors.ts`. */
export const ISSUANCE_ERRORS = {
  PROTO_ERR_ISSUANCE_PARAM: 'issuance command or sequence parameter out of range',
  PROTO_ERR_ISSUANCE_RESPONSE: 'issuance response data malformed or of the wrong length',
  PROTO_ERR_ISSUANCE_SEQUENCE: 'issuance sequence stepped with an event its state does not accept',
  PROTO_ERR_DEVICE_FRAME: 'card-issuing device frame malformed (start byte, length, end byte)',
  PROTO_ERR_DEVICE_BCC: 'card-issuing device frame check byte (BCC) does not match',
  PROTO_ERR_DEVICE_COMMAND: 'card-issuing device command text unknown or malformed',
  PROTO_ERR_DEVICE_REPLY: 'card-issuing device reply text malformed',
} as const satisfies Record<`PROTO_ERR_${string}`, string>;
