/**
 * `@onecard/protocol/psam`: PSAM commands and response parsers for the social security PSAM and
 * the transit purchase (terminal number, DELIVERY SESSION KEY, CIPHER DATA, MAC1, MAC2, dispersion
 * factors).
 */
export * from './commands.ts';
