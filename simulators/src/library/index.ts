/** A simulated library system speaking SIP2 over TCP, written apart from the terminal's codec. */
export * from './library.ts';
export * from './server.ts';
export { checksumOf, readLine, writeLine, type LibraryCharset } from './wire.ts';
