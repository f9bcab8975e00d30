/** Simulated terminal fleet: many lightweight terminals speaking the OneCard fleet protocol. */
export * from './http.ts';
export * from './terminal.ts';
export * from './fleet.ts';
export * from './progress.ts';
export * from './run.ts';
