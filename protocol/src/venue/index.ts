/** Venue gates: rules from the fleet configuration, local time, entry decisions, the gate–server snapshot. */
export * from './rules.ts';
export * from './local-time.ts';
export * from './sync.ts';
export * from './decide.ts';
