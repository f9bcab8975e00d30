/**
 * `@onecard/protocol/purse`: the T-Union transit e-purse (purchase, recovery, log records, MAC
 * input layouts) and the social security card's medical-insurance offline purse.
 */
export * from './commands.ts';
export * from './records.ts';
export * from './medical.ts';
