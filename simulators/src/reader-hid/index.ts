/** The simulated reader behind the OneCard HID link, as a node-hid-like device object. */
export * from './hid-reader.ts';
