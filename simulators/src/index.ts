/** OneCard simulators: cards, PSAMs and readers that behave like the real things, faults included. */
export * from './card/index.ts';
export * from './reader/index.ts';
export * from './reader-hid/index.ts';
export * from './ecard/index.ts';
export * from './pinpad/index.ts';
export * from './library/index.ts';
