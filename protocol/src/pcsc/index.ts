/**
 * `@onecard/protocol/pcsc`: pcscd's client socket protocol (pcsc-lite message protocol 4.4),
 * sans I/O — request and answer structures, the reader-state table and an incremental answer reader.
 */
export * from './messages.ts';
