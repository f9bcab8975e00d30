/** The iso7816 area: ATR, APDU, TLV and T=1 codecs shared by terminal, server and simulators. */
export * from './atr.ts';
export * from './historical-bytes.ts';
export * from './apdu.ts';
export * from './status-words.ts';
export * from './ber-tlv.ts';
export * from './simple-tlv.ts';
export * from './exchange.ts';
export * from './t1-block.ts';
export * from './t1.ts';
