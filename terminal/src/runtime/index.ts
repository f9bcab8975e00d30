/** Composition of the terminal runtime (`onecard-terminal run`) and its configuration file. */
export * from './config.ts';
export * from './runtime.ts';
export * from './scanners.ts';
export * from './card-gate.ts';
export * from './journaled-services.ts';
