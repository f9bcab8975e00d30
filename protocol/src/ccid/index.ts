/**
 * `@onecard/protocol/ccid`: CCID messages (reader-link.md §7), the GemPC Twin serial link framing
 * (§8) and the OneCard HID link framing (docs/hid-link.md).
 */
export * from './messages.ts';
export * from './serial-link.ts';
export * from './gempc-twin.ts';
export * from './hid-link.ts';
export * from './reader-models.ts';
