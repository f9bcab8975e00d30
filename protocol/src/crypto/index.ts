/**
 * `@onecard/protocol/crypto`: block ciphers (DES, 3DES, SM4, AES), SM3, CMAC, padding, the social
 * security card's MACs, dispersion, session keys and secure messaging, purse MAC1/MAC2/TAC, key
 * check values and TR-31 / X9.143 version `D` key blocks. All functions are pure over `Uint8Array`.
 */
export * from './block-cipher.ts';
export * from './padding.ts';
export * from './cmac.ts';
export { sm3 } from './sm3.ts';
export * from './card-key.ts';
export * from './mac.ts';
export * from './dispersion.ts';
export * from './session-keys.ts';
export * from './secure-messaging.ts';
export * from './purse-crypto.ts';
export * from './kcv.ts';
export * from './tr31-header.ts';
export * from './tr31.ts';
export * from './sm2.ts';
