/**
 * The cryptography of transit key sets on the server: the master key (AES-256, from a file or
 * the environment, never in the database) under which every key is stored as a TR-31 version
 * `D` block; the import format (key blocks wrapped by the key custodian under a KBPK derived by
 * ECDH between an ephemeral custodian key and the server's key, see docs/keys.md); and the purse
 * key-block convention (usage `61`/`62`, algorithm `T`, mode `X`, exportability `N`, key version
 * = card key version byte, `LB` = `ALG=hh;LV=n`, `KC` legacy KCV). Clear keys exist only inside
 * these functions' callers, for the moment of a re-wrap, and are wiped after use.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { toHex } from '@onecard/protocol/bytes';
import { keyCheckValue, kcvOptionalBlock, unwrapKeyBlock, wrapKeyBlock } from '@onecard/protocol/crypto';
import { ecdhHkdf, type PrivateKeyInput, type PublicKeyInput } from '@onecard/protocol/fleet';
import { isProtocolError } from '@onecard/protocol/errors';
import { ServerError } from '../errors.ts';

/** HKDF `info` prefix of the import KBPK; the key-set id follows (see {@link importInfo}). */
export const IMPORT_INFO = 'OneCard key import v2 TR-31 K1 AES-256';
/** Name of the import format (docs/keys.md). */
export const IMPORT_FORMAT = 'onecard-key-import/2';

/**
 * The HKDF `info` of the import KBPK for one key set: `IMPORT_INFO ‖ " keySetId=" ‖ keySetId`.
 * Binding the id into the key derivation binds every block of an import to the key set it was
 * wrapped for: replayed under another id, the KBPK differs and every block fails its MAC.
 */
export function importInfo(keySetId: string): string {
  return `${IMPORT_INFO} keySetId=${keySetId}`;
}
/** Purse key usages [ONECARD key-blocks §3]: purchase root (MPK) and TAC root (MTK). */
export const PURSE_USAGES = { purchase: '61', tac: '62' } as const;

/** A purse key with its slot (the clear `key` only ever exists in memory). */
export interface PurseKeyMaterial {
  readonly usage: string;
  readonly keyVersion: number;
  readonly algorithmId: number;
  readonly levels: number;
  readonly key: Uint8Array;
}

/** A checked purse key block: its slot, levels and KCV, and the clear key (wipe after use). */
export interface OpenedPurseKey extends PurseKeyMaterial {
  /** Legacy 3-byte KCV, uppercase hex. */
  readonly kcv: string;
}

/**
 * Parses a master key: 64 hex digits (whitespace around ignored) or exactly 32 raw bytes.
 * @throws ServerError `SRV_ERR_KEYS_MASTER_KEY`
 */
export function parseMasterKey(input: string | Uint8Array): Uint8Array {
  if (input instanceof Uint8Array) {
    if (input.length === 32) return input.slice();
    const text = Buffer.from(input).toString('latin1');
    return parseMasterKey(text);
  }
  const hex = input.trim();
  if (!/^[0-9A-Fa-f]{64}$/.test(hex)) throw new ServerError('SRV_ERR_KEYS_MASTER_KEY', 'expected 64 hex digits (AES-256) or 32 raw bytes');
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/**
 * The master key from `ONECARD_MASTER_KEY_FILE` (a file holding 64 hex digits or 32 raw bytes)
 * or `ONECARD_MASTER_KEY` (64 hex digits); `undefined` when neither is set. The file wins.
 * @throws ServerError `SRV_ERR_KEYS_MASTER_KEY` (malformed, or the file cannot be read)
 */
export function loadMasterKey(env: Readonly<Record<string, string | undefined>>, readFile: (path: string) => Uint8Array): Uint8Array | undefined {
  const file = env['ONECARD_MASTER_KEY_FILE'];
  if (file !== undefined && file !== '') {
    let bytes: Uint8Array;
    try { bytes = readFile(file); } catch (cause) { throw new ServerError('SRV_ERR_KEYS_MASTER_KEY', 'ONECARD_MASTER_KEY_FILE cannot be read', {}, { cause }); }
    return parseMasterKey(bytes);
  }
  const hex = env['ONECARD_MASTER_KEY'];
  if (hex !== undefined && hex !== '') return parseMasterKey(hex);
  return undefined;
}

/** CMAC KCV (5 bytes, uppercase hex) of the master key, stored with each key-set version. */
export function masterKeyCheckValue(masterKey: Uint8Array): string {
  return toHex(keyCheckValue('aes', masterKey, { method: 'cmac', length: 5 })).toUpperCase();
}

/** Legacy 3-byte KCV of a 16-byte 3DES purse key, uppercase hex. */
export function purseKcv(key: Uint8Array): string {
  return toHex(keyCheckValue('3des', key, { method: 'legacy', length: 3 })).toUpperCase();
}

/** The import KBPK: HKDF-SHA256(ECDH-P256(priv, peer), salt = SHA-256(ephemeral SPKI DER), info = importInfo(keySetId), 32). */
export function importKbpk(privateKey: PrivateKeyInput, peerPublicKey: PublicKeyInput, ephemeralSpkiBase64: string, keySetId: string): Uint8Array {
  const salt = new Uint8Array(createHash('sha256').update(Buffer.from(ephemeralSpkiBase64, 'base64')).digest());
  return ecdhHkdf(privateKey, peerPublicKey, salt, importInfo(keySetId), 32);
}

/**
 * Wraps one purse key as a TR-31 `D` block under `kbpk` with the OneCard purse convention.
 * `keyContext` `1` marks the at-rest copy under the master key, `0` a block for exchange.
 * @throws ServerError `SRV_ERR_INVALID_ARGUMENT` (slot out of range, not a 16-byte key)
 */
export function purseKeyBlock(kbpk: Uint8Array, k: PurseKeyMaterial, keyContext: '0' | '1' = '0'): string {
  if (k.usage !== PURSE_USAGES.purchase && k.usage !== PURSE_USAGES.tac) throw new ServerError('SRV_ERR_INVALID_ARGUMENT', `usage ${k.usage}`);
  if (!Number.isInteger(k.keyVersion) || k.keyVersion < 1 || k.keyVersion > 255) throw new ServerError('SRV_ERR_INVALID_ARGUMENT', 'keyVersion 1–255');
  if (!Number.isInteger(k.algorithmId) || k.algorithmId < 0 || k.algorithmId > 255) throw new ServerError('SRV_ERR_INVALID_ARGUMENT', 'algorithmId 0–255');
  if (k.levels !== 1 && k.levels !== 2) throw new ServerError('SRV_ERR_INVALID_ARGUMENT', 'levels 1 or 2');
  if (k.key.length !== 16) throw new ServerError('SRV_ERR_INVALID_ARGUMENT', 'purse keys are 16-byte 3DES keys');
  const hex2 = (n: number) => n.toString(16).toUpperCase().padStart(2, '0');
  return wrapKeyBlock({
    kbpk,
    header: { keyUsage: k.usage, algorithm: 'T', modeOfUse: 'X', keyVersionNumber: hex2(k.keyVersion), exportability: 'N', keyContext },
    optionalBlocks: [kcvOptionalBlock('T', k.key), { id: 'LB', data: `ALG=${hex2(k.algorithmId)};LV=${k.levels}` }],
    key: k.key,
  });
}

/**
 * Unwraps a purse key block under `kbpk` and checks the convention (MAC, `KC` when present,
 * usage, algorithm, mode, exportability, key version, `LB`).
 * @throws ServerError `code` (default `SRV_ERR_KEYS_IMPORT`) with `details.reason` / `details.protocolCode`
 */
export function openPurseKeyBlock(kbpk: Uint8Array, block: string, code: 'SRV_ERR_KEYS_IMPORT' | 'SRV_ERR_KEYS_MASTER_KEY' = 'SRV_ERR_KEYS_IMPORT'): OpenedPurseKey {
  let u: ReturnType<typeof unwrapKeyBlock>;
  try {
    u = unwrapKeyBlock(kbpk, block);
  } catch (cause) {
    if (isProtocolError(cause)) throw new ServerError(code, cause.code, { protocolCode: cause.code }, { cause });
    throw cause;
  }
  const bad = (reason: string): never => { u.key.fill(0); throw new ServerError(code, reason, { reason }); };
  const h = u.header;
  if (h.keyUsage !== PURSE_USAGES.purchase && h.keyUsage !== PURSE_USAGES.tac) bad(`key usage ${h.keyUsage} is not a purse key (61/62)`);
  if (h.algorithm !== 'T' || u.key.length !== 16) bad('purse keys are 16-byte 3DES keys (algorithm T)');
  if (h.modeOfUse !== 'X') bad('purse roots have mode of use X');
  if (h.exportability !== 'N') bad('purse roots have exportability N');
  if (!/^[0-9A-F]{2}$/.test(h.keyVersionNumber) || h.keyVersionNumber === '00') bad('key version number must be the card key version byte (2 hex digits)');
  const lb = /^ALG=([0-9A-F]{2});LV=([12])$/.exec(u.optionalBlocks.find((b) => b.id === 'LB')?.data ?? '');
  if (lb === null) bad('LB must be ALG=hh;LV=n');
  return {
    usage: h.keyUsage, keyVersion: Number.parseInt(h.keyVersionNumber, 16), algorithmId: Number.parseInt(lb![1]!, 16), levels: Number(lb![2]),
    key: u.key, kcv: purseKcv(u.key),
  };
}

/**
 * The key custodian's side of the import format (docs/keys.md): a fresh P-256 key pair, the
 * import KBPK with the server's import public key for key set `keySetId`, and one purse key block
 * per key. Used by tooling and tests; the server never sees the clear keys.
 */
export function wrapKeySetForImport(serverPublicKey: PublicKeyInput, keySetId: string, keys: readonly PurseKeyMaterial[]): { ephemeralPublicKey: string; keys: { block: string }[] } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const kbpk = importKbpk(privateKey, serverPublicKey, spki, keySetId);
  try {
    return { ephemeralPublicKey: spki, keys: keys.map((k) => ({ block: purseKeyBlock(kbpk, k) })) };
  } finally {
    kbpk.fill(0);
  }
}
