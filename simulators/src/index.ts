/** OneCard simulators: cards, PSAMs and readers that behave like the real things, faults included. */
export * from './card/index.ts';
export * from './reader/index.ts';
