/** E-card QR on the terminal: token codec, offline verifier, online adapter, scanner decoders. */
export * from './token.ts';
export * from './verifier.ts';
export * from './replay-log.ts';
export * from './online.ts';
export * from './scanner.ts';
