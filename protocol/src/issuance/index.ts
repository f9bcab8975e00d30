/**
 * `@onecard/protocol/issuance`: instant issuance and card maintenance [issuance.md]: UPDATE
 * RECORD/BINARY builders and the record writes of an issuance, the update-key authentication
 * sequence through a PSAM (DES and SM4), the CA applet commands of 3.0 cards, and the codec of
 * the card-issuing device link. All pure over `Uint8Array`.
 */
export * from './commands.ts';
export * from './update-key.ts';
export * from './ca-applet.ts';
export * from './device.ts';
export * from './services.ts';
