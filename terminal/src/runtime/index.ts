/** The terminal's composition root (`startTerminal`: `onecard-terminal run`, systemd, the demo, tests), the runtime and its configuration. */
export * from './config.ts';
export * from './runtime.ts';
export * from './terminal.ts';
export * from './scanners.ts';
export * from './card-gate.ts';
export * from './journaled-services.ts';
