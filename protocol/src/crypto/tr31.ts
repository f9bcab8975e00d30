/**
 * TR-31 / ANSI X9.143 key blocks, version `D` (AES key-derivation binding): KBEK/KBAK derived from
 * the KBPK by AES-CMAC, payload = key length in bits ‖ key ‖ random padding, authenticator =
 * AES-CMAC(KBAK, header ‖ optional blocks ‖ clear payload), ciphertext = AES-CBC(KBEK, IV =
 * authenticator). Other versions are parsed by `tr31-header.ts` but not wrapped or unwrapped here.
 */
import { ProtocolError } from '../errors.ts';
import { concat, fromHex, timingSafeEqualBytes, toHex } from '../bytes.ts';
import { createBlockCipher } from './block-cipher.ts';
import type { CipherAlgorithm } from './block-cipher.ts';
import { cmac } from './cmac.ts';
import { keyCheckValue } from './kcv.ts';
import { encodeHeader, encodeOptionalBlock, parseKeyBlockHeader, validateHeaderFields } from './tr31-header.ts';
import type { Exportability, KeyBlockHeader, KeyContext, OptionalBlock } from './tr31-header.ts';

/** Source of random bytes (payload padding, PB characters). Must return exactly `length` bytes. */
export type RandomSource = (length: number) => Uint8Array;

const defaultRandom: RandomSource = (length) => globalThis.crypto.getRandomValues(new Uint8Array(length));

function checkKbpk(kbpk: Uint8Array): void {
  if (kbpk.length !== 16 && kbpk.length !== 24 && kbpk.length !== 32) {
    throw new ProtocolError('PROTO_ERR_TR31_KBPK', `version D needs an AES-128/192/256 KBPK, got ${kbpk.length} bytes`, { field: 'kbpk', length: kbpk.length });
  }
}

/**
 * Derives the key-block encryption and authentication keys from an AES KBPK: AES-CMAC(KBPK,
 * counter ‖ usage (`0000` enc, `0001` MAC) ‖ `00` ‖ algorithm (`0002`/`0003`/`0004`) ‖ length in
 * bits), counters 1 and 2 for keys over 128 bits. [X9.143 §7.2.1.1 table 24; ISO 20038 §6.3]
 * @throws ProtocolError `PROTO_ERR_TR31_KBPK`
 */
export function deriveKeyBlockKeys(kbpk: Uint8Array): { kbek: Uint8Array; kbak: Uint8Array } {
  checkKbpk(kbpk);
  const cipher = createBlockCipher('aes', kbpk);
  const alg = { 16: 0x02, 24: 0x03, 32: 0x04 }[kbpk.length as 16 | 24 | 32];
  const bits = kbpk.length * 8;
  const derive = (usage: number): Uint8Array => {
    const parts: Uint8Array[] = [];
    for (let counter = 1; counter <= Math.ceil(kbpk.length / 16); counter++) {
      parts.push(cmac(cipher, Uint8Array.of(counter, 0x00, usage, 0x00, 0x00, alg, bits >> 8, bits & 0xff)));
    }
    return concat(...parts).slice(0, kbpk.length);
  };
  return { kbek: derive(0x00), kbak: derive(0x01) };
}

/** Header fields the caller chooses when wrapping; version, length and block count are computed. */
export interface KeyBlockHeaderFields {
  readonly keyUsage: string;
  readonly algorithm: string;
  readonly modeOfUse: string;
  /** Default `00` (not used). */
  readonly keyVersionNumber?: string;
  readonly exportability: Exportability;
  /** Default `0`. */
  readonly keyContext?: KeyContext;
}

/** Input of {@link wrapKeyBlock}. */
export interface WrapKeyBlockInput {
  /** AES key block protection key, 16/24/32 bytes. */
  readonly kbpk: Uint8Array;
  readonly header: KeyBlockHeaderFields;
  /** Optional blocks in order. A `PB` block is appended when needed to reach a multiple of 16. */
  readonly optionalBlocks?: readonly OptionalBlock[];
  /** The key to wrap. */
  readonly key: Uint8Array;
  /**
   * `obfuscate` (default, X9.143:2021): pad as if the key had its algorithm's maximum length (AES
   * 32, TDES 24 bytes); `minimal`: pad to the next multiple of 16 only (TR-31:2018).
   */
  readonly padding?: 'obfuscate' | 'minimal';
  /** Random source for payload padding and `PB` characters (inject for reproducible output). */
  readonly random?: RandomSource;
}

const KEY_LENGTHS_BY_ALGORITHM: Readonly<Record<string, readonly number[]>> = { A: [16, 24, 32], T: [16, 24], D: [8] };
const MAX_KEY_LENGTH: Readonly<Record<string, number>> = { A: 32, T: 24, D: 8 };
const CIPHER_BY_ALGORITHM: Readonly<Record<string, CipherAlgorithm>> = { A: 'aes', T: '3des', D: 'des' };

function checkWrappedKeyLength(algorithm: string, length: number): void {
  const allowed = KEY_LENGTHS_BY_ALGORITHM[algorithm];
  if (length === 0 || (allowed !== undefined && !allowed.includes(length))) {
    throw new ProtocolError('PROTO_ERR_TR31_KEY_LENGTH', `${length}-byte key for algorithm ${algorithm}`, { field: 'key', length });
  }
}

function randomBytes(random: RandomSource, length: number): Uint8Array {
  const r = random(length);
  if (!(r instanceof Uint8Array) || r.length !== length) {
    throw new ProtocolError('PROTO_ERR_CRYPTO_PARAM', `random source returned the wrong length for ${length} bytes`, { field: 'random' });
  }
  return r;
}

const PB_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * Wraps `key` into a version `D` key block. Output = header ‖ optional blocks ‖ hex(ciphertext)
 * ‖ hex(authenticator). [X9.143 §6.2, §7.2.1; TR-31:2018 A.7.4]
 * @throws ProtocolError `PROTO_ERR_TR31_KBPK`, `PROTO_ERR_TR31_HEADER`, `PROTO_ERR_TR31_OPT_BLOCK`,
 *   `PROTO_ERR_TR31_KEY_LENGTH`, `PROTO_ERR_TR31_LENGTH` (over 9999 characters), `PROTO_ERR_CRYPTO_PARAM`
 */
export function wrapKeyBlock(input: WrapKeyBlockInput): string {
  checkKbpk(input.kbpk);
  const random = input.random ?? defaultRandom;
  const fields = {
    keyUsage: input.header.keyUsage,
    algorithm: input.header.algorithm,
    modeOfUse: input.header.modeOfUse,
    keyVersionNumber: input.header.keyVersionNumber ?? '00',
    exportability: input.header.exportability,
    keyContext: input.header.keyContext ?? '0',
  };
  validateHeaderFields(fields);
  checkWrappedKeyLength(fields.algorithm, input.key.length);
  if (input.key.length > 0xfff) throw new ProtocolError('PROTO_ERR_TR31_KEY_LENGTH', 'key too long', { field: 'key', length: input.key.length });

  const blocks = [...(input.optionalBlocks ?? [])];
  let opt = blocks.map(encodeOptionalBlock).join('');
  if (opt.length % 16 !== 0) {
    if (blocks.some((b) => b.id === 'PB')) throw new ProtocolError('PROTO_ERR_TR31_OPT_BLOCK', 'given PB does not reach a multiple of 16', { field: 'optionalBlock.PB' });
    // [X9.143 §6.3.6] PB pads the optional blocks to the block size; at least its 4-character head
    let pbLen = 16 - (opt.length % 16);
    if (pbLen < 4) pbLen += 16;
    const pad = Array.from(randomBytes(random, pbLen - 4), (b) => PB_ALPHABET[b % PB_ALPHABET.length]!).join('');
    const pb = { id: 'PB', data: pad };
    blocks.push(pb);
    opt += encodeOptionalBlock(pb);
  }
  if (blocks.length > 99) throw new ProtocolError('PROTO_ERR_TR31_OPT_BLOCK', 'more than 99 optional blocks', { field: 'optionalBlock' });
  if (new Set(blocks.map((b) => b.id)).size !== blocks.length) throw new ProtocolError('PROTO_ERR_TR31_OPT_BLOCK', 'duplicate optional block ID', { field: 'optionalBlock' });
  const pbAt = blocks.findIndex((b) => b.id === 'PB');
  if (pbAt >= 0 && pbAt !== blocks.length - 1) throw new ProtocolError('PROTO_ERR_TR31_OPT_BLOCK', 'PB must be the last optional block', { field: 'optionalBlock.PB' });

  // [X9.143 §7.2.1 payload] key length in bits ‖ key ‖ random padding, to a multiple of 16
  const target = input.padding === 'minimal' ? input.key.length : Math.max(input.key.length, MAX_KEY_LENGTH[fields.algorithm] ?? 0);
  const payloadLength = Math.ceil((2 + target) / 16) * 16;
  const bits = input.key.length * 8;
  const payload = concat(Uint8Array.of(bits >> 8, bits & 0xff), input.key, randomBytes(random, payloadLength - 2 - input.key.length));

  const length = 16 + opt.length + 2 * payloadLength + 32;
  if (length > 9999) throw new ProtocolError('PROTO_ERR_TR31_LENGTH', `key block of ${length} characters`, { field: 'length', length });
  const head = encodeHeader({ version: 'D', length, ...fields, optionalBlockCount: blocks.length }) + opt;

  const { kbek, kbak } = deriveKeyBlockKeys(input.kbpk);
  const mac = cmac(createBlockCipher('aes', kbak), concat(ascii(head), payload)); // [X9.143 §7.2.1 MAC-then-encrypt]
  const ciphertext = createBlockCipher('aes', kbek).encryptCbc(mac, payload);
  return head + toHex(ciphertext) + toHex(mac);
}

function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** Result of {@link unwrapKeyBlock}. */
export interface UnwrappedKeyBlock {
  readonly header: KeyBlockHeader;
  readonly optionalBlocks: readonly OptionalBlock[];
  readonly key: Uint8Array;
  /** True when a `KC` block was present and checked against the key (a mismatch throws). */
  readonly kcvVerified: boolean;
}

/**
 * Unwraps a version `D` key block: parse and validate the header, derive KBEK/KBAK, CBC-decrypt
 * with IV = authenticator, recompute the CMAC and compare in constant time, read the key length,
 * and check the `KC` block when present. [X9.143 §7.2.1; key-blocks.md §6.5]
 * @throws ProtocolError `PROTO_ERR_TR31_CHARSET`, `PROTO_ERR_TR31_LENGTH`, `PROTO_ERR_TR31_VERSION`,
 *   `PROTO_ERR_TR31_HEADER`, `PROTO_ERR_TR31_OPT_BLOCK`, `PROTO_ERR_TR31_HEX`, `PROTO_ERR_TR31_KBPK`,
 *   `PROTO_ERR_TR31_MAC`, `PROTO_ERR_TR31_KEY_LENGTH`, `PROTO_ERR_TR31_KCV`
 */
export function unwrapKeyBlock(kbpk: Uint8Array, block: string): UnwrappedKeyBlock {
  const { header, optionalBlocks, headerLength } = parseKeyBlockHeader(block);
  if (header.version !== 'D') throw new ProtocolError('PROTO_ERR_TR31_VERSION', `version ${header.version} cannot be unwrapped`, { field: 'version', offset: 0 });
  checkKbpk(kbpk);
  const rest = block.slice(headerLength);
  // [X9.143 §6.2] hex(encrypted payload, whole 16-byte blocks) ‖ hex(16-byte MAC)
  if (!/^[0-9A-F]*$/.test(rest) || rest.length < 64 || (rest.length - 32) % 32 !== 0) {
    throw new ProtocolError('PROTO_ERR_TR31_HEX', `${rest.length} characters after the header`, { field: 'payload', offset: headerLength });
  }
  const ciphertext = fromHex(rest.slice(0, rest.length - 32));
  const mac = fromHex(rest.slice(rest.length - 32));
  const { kbek, kbak } = deriveKeyBlockKeys(kbpk);
  const payload = createBlockCipher('aes', kbek).decryptCbc(mac, ciphertext);
  const expected = cmac(createBlockCipher('aes', kbak), concat(ascii(block.slice(0, headerLength)), payload));
  if (!timingSafeEqualBytes(expected, mac)) throw new ProtocolError('PROTO_ERR_TR31_MAC', undefined, { field: 'authenticator', offset: block.length - 32 });

  const bits = (payload[0]! << 8) | payload[1]!;
  if (bits === 0 || bits % 8 !== 0 || bits / 8 > payload.length - 2) {
    throw new ProtocolError('PROTO_ERR_TR31_KEY_LENGTH', `key length ${bits} bits in a ${payload.length}-byte payload`, { field: 'keyLength' });
  }
  const key = payload.slice(2, 2 + bits / 8);
  checkWrappedKeyLength(header.algorithm, key.length);

  let kcvVerified = false;
  const kc = optionalBlocks.find((b) => b.id === 'KC');
  const cipherAlg = CIPHER_BY_ALGORITHM[header.algorithm];
  if (kc !== undefined && cipherAlg !== undefined) {
    const given = fromHex(kc.data.slice(2));
    const method = kc.data.startsWith('01') ? 'cmac' : 'legacy';
    const actual = keyCheckValue(cipherAlg, key, { method, length: given.length });
    if (!timingSafeEqualBytes(actual, given)) throw new ProtocolError('PROTO_ERR_TR31_KCV', undefined, { field: 'optionalBlock.KC' });
    kcvVerified = true;
  }
  return { header, optionalBlocks, key, kcvVerified };
}

/**
 * A `KC` optional block for `key`: CMAC KCV (algorithm `01`, 5 bytes) for AES, legacy (`00`,
 * 3 bytes) for DES-family keys. [X9.143 §6.3.6 table 7; X9.24-1 annex A]
 * @throws ProtocolError `PROTO_ERR_TR31_HEADER` (algorithm not A/T/D), `PROTO_ERR_CRYPTO_KEY_LENGTH`
 */
export function kcvOptionalBlock(algorithm: string, key: Uint8Array): OptionalBlock {
  const cipherAlg = CIPHER_BY_ALGORITHM[algorithm];
  if (cipherAlg === undefined) throw new ProtocolError('PROTO_ERR_TR31_HEADER', `no KCV rule for algorithm '${algorithm}'`, { field: 'algorithm' });
  const method = cipherAlg === 'aes' ? 'cmac' : 'legacy';
  return { id: 'KC', data: (method === 'cmac' ? '01' : '00') + toHex(keyCheckValue(cipherAlg, key, { method })) };
}
