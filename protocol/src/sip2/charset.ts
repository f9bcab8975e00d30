/**
 * The character sets a SIP2 link may be configured with. SIP2 2.00 itself says nothing beyond
 * "printable characters"; Chinese library systems speak either GBK or UTF-8 on the same wire
 * format, so the whole message is encoded in the configured set and the checksum is taken over
 * the encoded bytes. GBK reuses the dependency-free codec of the card application (`ssc/gbk.ts`).
 */
import { ProtocolError, isProtocolError } from '../errors.ts';
import { decodeGbk, encodeGbk } from '../ssc/gbk.ts';

export type Sip2Charset = 'utf-8' | 'gbk';
export const SIP2_CHARSETS: readonly Sip2Charset[] = ['utf-8', 'gbk'];

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Encodes text in `charset`.
 * @throws ProtocolError `PROTO_ERR_SIP2_CHARSET` (a character the set cannot represent; lone surrogates in UTF-8)
 */
export function encodeSip2Text(text: string, charset: Sip2Charset): Uint8Array {
  if (charset === 'gbk') {
    try {
      return encodeGbk(text);
    } catch (err) {
      if (isProtocolError(err)) throw new ProtocolError('PROTO_ERR_SIP2_CHARSET', 'not encodable in GBK', { charset, ...err.details }, { cause: err });
      throw err;
    }
  }
  if (LONE_SURROGATE.test(text)) throw new ProtocolError('PROTO_ERR_SIP2_CHARSET', 'lone surrogate', { charset });
  return utf8Encoder.encode(text);
}

/**
 * Decodes bytes in `charset`, strictly (no replacement characters).
 * @throws ProtocolError `PROTO_ERR_SIP2_CHARSET`
 */
export function decodeSip2Text(bytes: Uint8Array, charset: Sip2Charset): string {
  if (charset === 'gbk') {
    try {
      return decodeGbk(bytes);
    } catch (err) {
      if (isProtocolError(err)) throw new ProtocolError('PROTO_ERR_SIP2_CHARSET', 'not valid GBK', { charset, ...err.details }, { cause: err });
      throw err;
    }
  }
  try {
    return utf8Decoder.decode(bytes);
  } catch (err) {
    throw new ProtocolError('PROTO_ERR_SIP2_CHARSET', 'not valid UTF-8', { charset }, { cause: err });
  }
}
