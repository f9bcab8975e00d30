/**
 * `@onecard/protocol/ssc`: the social security card application — data items, identifiers and
 * check digits, GBK, commands and response parsers, the national interface strings and error
 * codes, and personal-data masking.
 */
export * from './bcd.ts';
export * from './gbk.ts';
export * from './tlv.ts';
export * from './check-digits.ts';
export * from './card-id.ts';
export * from './data-items.ts';
export * from './commands.ts';
export * from './national-interface.ts';
export * from './mask.ts';
