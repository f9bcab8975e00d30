/**
 * The 3.0 card's CA applet `PKI.社会保障` [issuance §8]: command builders, the PIN hash and
 * challenge-response values, the admin-PIN and master-key change cryptograms with their SM4 MAC,
 * and the parser of the CA service's key envelope (GM/T 0016 `ENVELOPEDKEYBLOB`, [INFER] layout of
 * §8.3). No public specification of the applet exists; every APDU here follows the two kiosk
 * implementations the domain note cites. Builders of secret-bearing commands (VERIFY `20`, `5E`,
 * `82`, `D4`) are masked by the terminal's APDU serializer.
 */
import { ProtocolError } from '../errors.ts';
import { concat, fromHex } from '../bytes.ts';
import type { CommandApdu } from '../iso7816/apdu.ts';
import { encryptEcb } from '../crypto/block-cipher.ts';
import { cardMac } from '../crypto/mac.ts';
import { sm3 } from '../crypto/sm3.ts';
import { cmd, paramChecks } from '../ssc/command-builder.ts';

const { param, lenParam } = paramChecks('PROTO_ERR_ISSUANCE_PARAM');

/** DDF name `PKI.社会保障` [issuance §8.1]. */
export const CA_DDF_NAME = fromHex('504B492EC9E7BBE1B1A3D5CF');
/** ADF name `SS.CERT.ADF1` (FID `DF01` under the DDF [INFER]) [issuance §8.1]. */
export const CA_ADF_NAME = fromHex('53532E434552542E41444631');
/** Key and certificate EFs of the CA applet [issuance §8.1]. */
export const CA_FILES = { signPublic: 0x0012, signPrivate: 0x0013, encPublic: 0x0014, encPrivate: 0x0015, signCert: 0x0018, encCert: 0x0019 } as const;
/** PIN references: user `81` (6 digits), admin `00` (8 digits) [issuance §8.1]. */
export const CA_PIN = { user: { ref: 0x81, digits: 6 }, admin: { ref: 0x00, digits: 8 } } as const;
export type CaPinKind = keyof typeof CA_PIN;

function pinBcd(kind: CaPinKind, pin: string): Uint8Array {
  const n = CA_PIN[kind].digits;
  if (!new RegExp(`^[0-9]{${n}}$`).test(pin)) throw new ProtocolError('PROTO_ERR_ISSUANCE_PARAM', `${kind} PIN must be ${n} digits`, { field: 'pin' });
  return fromHex(pin);
}

/** 16-byte R from a challenge: 16 bytes as is, 8 bytes ‖ 8 × `00` [issuance §8.2 VERIFY]. */
function challengeBlock(challenge: Uint8Array): Uint8Array {
  lenParam(challenge, [8, 16], 'challenge');
  return challenge.length === 16 ? challenge.slice() : concat(challenge, new Uint8Array(8));
}

/**
 * PIN hash `80 C4 01 03 Lc C1 len PIN` Le `00` (user: `05 C1 03 …`, admin: `06 C1 04 …`) [issuance §8.2].
 * @throws ProtocolError `PROTO_ERR_ISSUANCE_PARAM` unless the PIN has the kind's digit count.
 */
export function caPinHash(kind: CaPinKind, pin: string): CommandApdu {
  const p = pinBcd(kind, pin);
  return cmd(0x80, 0xc4, 0x01, 0x03, concat(Uint8Array.of(0xc1, p.length), p), 256);
}

/**
 * K_PIN = first 16 bytes of SM3(PIN bytes) — what the card answers to {@link caPinHash}
 * [issuance §8.2, §8.4 INFER, checked against KIOSK-ZJ].
 * @throws ProtocolError `PROTO_ERR_ISSUANCE_PARAM` on a bad PIN.
 */
export function caPinKey(kind: CaPinKind, pin: string): Uint8Array {
  return sm3(pinBcd(kind, pin)).slice(0, 16);
}

/**
 * Parses the PIN-hash response: 32 bytes → K_PIN (first 16).
 * @throws ProtocolError `PROTO_ERR_ISSUANCE_RESPONSE` when not 32 bytes.
 */
export function parseCaPinHash(data: Uint8Array): Uint8Array {
  if (data.length !== 32) throw new ProtocolError('PROTO_ERR_ISSUANCE_RESPONSE', 'PIN hash is 32 bytes', { field: 'pinHash', length: data.length });
  return data.slice(0, 16);
}

/**
 * VERIFY `00 20 01 ref 10 E`, E = SM4-ECB(K, R) with K = K_PIN (or K_admin) [issuance §8.2].
 * @throws ProtocolError `PROTO_ERR_ISSUANCE_PARAM` (challenge not 8/16, key not 16), `PROTO_ERR_CRYPTO_*`.
 */
export function caVerify(kind: CaPinKind, pinKey: Uint8Array, challenge: Uint8Array): CommandApdu {
  lenParam(pinKey, [16], 'pinKey');
  return cmd(0x00, 0x20, 0x01, CA_PIN[kind].ref, encryptEcb('sm4', pinKey, challengeBlock(challenge)));
}

/** GENERATE KEY PAIR `80 40 00 00 08 C0 02 00 12 C2 02 00 13` (signature pair) [issuance §8.2]. */
export function caGenerateKeyPair(): CommandApdu {
  return cmd(0x80, 0x40, 0x00, 0x00, fromHex('C0020012C2020013'));
}

/** EXPORT PUBLIC KEY, first `80 C9 82 00 08 C0 02 00 12 C2 02 00 13`, then `80 C9 82 80` Le `42` [issuance §8.2 KIOSK-JS]. */
export function caExportPublicKey(): [CommandApdu, CommandApdu] {
  return [cmd(0x80, 0xc9, 0x82, 0x00, fromHex('C0020012C2020013')), cmd(0x80, 0xc9, 0x82, 0x80, undefined, 0x42)];
}

/**
 * Parses the exported public key: 2-byte header ‖ X 32 ‖ Y 32 → X ‖ Y (`QMGY`) [issuance §8.2].
 * @throws ProtocolError `PROTO_ERR_ISSUANCE_RESPONSE` when not 66 bytes.
 */
export function parseCaPublicKey(data: Uint8Array): Uint8Array {
  if (data.length !== 66) throw new ProtocolError('PROTO_ERR_ISSUANCE_RESPONSE', 'exported public key is 66 bytes', { field: 'publicKey', length: data.length });
  return data.slice(2);
}

/** The parts of the CA service's encryption-key envelope `JMMY` [issuance §8.3]. */
export interface CaEnvelope {
  /** Encryption private key, 32 bytes, encrypted under the session key. */
  readonly encryptedPrivateKey: Uint8Array;
  /** Encryption public key X ‖ Y, 64 bytes. */
  readonly publicKey: Uint8Array;
  /** SM2 cipher of the session key: C1.x ‖ C1.y (64), C3 (32), C2 (16). */
  readonly c1: Uint8Array;
  readonly c3: Uint8Array;
  readonly c2: Uint8Array;
}

/**
 * Parses a GM/T 0016 `ENVELOPEDKEYBLOB` at the offsets of issuance §8.3 (44, 112, 176, 240, 304,
 * 336, 372); the cipher length at 368 is little-endian and must be 16.
 * @throws ProtocolError `PROTO_ERR_ISSUANCE_RESPONSE` when shorter than 388 bytes, the cipher length
 * is not 16, or bytes trail the cipher.
 */
export function parseCaEnvelope(blob: Uint8Array): CaEnvelope {
  if (blob.length !== 388) throw new ProtocolError('PROTO_ERR_ISSUANCE_RESPONSE', 'envelope must be 388 bytes', { field: 'envelope', length: blob.length });
  const cl = blob[368]! | (blob[369]! << 8) | (blob[370]! << 16) | (blob[371]! << 24);
  if (cl !== 16) throw new ProtocolError('PROTO_ERR_ISSUANCE_RESPONSE', 'envelope cipher length must be 16', { field: 'cipherLength', value: cl });
  return {
    encryptedPrivateKey: blob.slice(44, 76),
    publicKey: concat(blob.subarray(112, 144), blob.subarray(176, 208)),
    c1: concat(blob.subarray(240, 272), blob.subarray(304, 336)),
    c3: blob.slice(336, 368),
    c2: blob.slice(372, 388),
  };
}

/**
 * Builds the `ENVELOPEDKEYBLOB` a CA service returns (for fakes and tests): version 1, symmetric
 * algorithm SM4-ECB `00000401`, 256 bits, fields right-aligned in their 64-byte slots.
 * @throws ProtocolError `PROTO_ERR_ISSUANCE_PARAM` on wrong part lengths.
 */
export function encodeCaEnvelope(e: CaEnvelope): Uint8Array {
  lenParam(e.encryptedPrivateKey, [32], 'encryptedPrivateKey');
  lenParam(e.publicKey, [64], 'publicKey');
  lenParam(e.c1, [64], 'c1');
  lenParam(e.c3, [32], 'c3');
  lenParam(e.c2, [16], 'c2');
  const b = new Uint8Array(388);
  const le32 = (o: number, v: number): void => {
    b[o] = v & 0xff;
    b[o + 1] = (v >> 8) & 0xff;
    b[o + 2] = (v >> 16) & 0xff;
    b[o + 3] = (v >>> 24) & 0xff;
  };
  le32(0, 1);
  le32(4, 0x401);
  le32(8, 256);
  b.set(e.encryptedPrivateKey, 44);
  le32(76, 256);
  b.set(e.publicKey.subarray(0, 32), 112);
  b.set(e.publicKey.subarray(32), 176);
  b.set(e.c1.subarray(0, 32), 240);
  b.set(e.c1.subarray(32), 304);
  b.set(e.c3, 336);
  le32(368, 16);
  b.set(e.c2, 372);
  return b;
}

/** SM2 DECRYPT `80 4E 00 01 78 C2 02 00 13 C1 82 00 70` ‖ C1 ‖ C3 ‖ C2 (signature private key) [issuance §8.2]. */
export function caSm2Decrypt(e: Pick<CaEnvelope, 'c1' | 'c3' | 'c2'>): CommandApdu {
  lenParam(e.c1, [64], 'c1');
  lenParam(e.c3, [32], 'c3');
  lenParam(e.c2, [16], 'c2');
  return cmd(0x80, 0x4e, 0x00, 0x01, concat(fromHex('C2020013C1820070'), e.c1, e.c3, e.c2));
}

/** IMPORT SESSION KEY `80 4A 02 10 12 C1 10` ‖ key 16 [issuance §8.2]. */
export function caImportSessionKey(key: Uint8Array): CommandApdu {
  lenParam(key, [16], 'sessionKey');
  return cmd(0x80, 0x4a, 0x02, 0x10, concat(fromHex('C110'), key));
}

/** IMPORT PUBLIC KEY `80 C2 40 00 46 C0 02 00 14 CA 40` ‖ X ‖ Y [issuance §8.2]. */
export function caImportPublicKey(publicKey: Uint8Array): CommandApdu {
  lenParam(publicKey, [64], 'publicKey');
  return cmd(0x80, 0xc2, 0x40, 0x00, concat(fromHex('C0020014CA40'), publicKey));
}

/** IMPORT PRIVATE KEY `80 C2 C0 01 26 C2 02 00 15 CB 20` ‖ 32 bytes [issuance §8.2]. */
export function caImportPrivateKey(encryptedPrivateKey: Uint8Array): CommandApdu {
  lenParam(encryptedPrivateKey, [32], 'encryptedPrivateKey');
  return cmd(0x80, 0xc2, 0xc0, 0x01, concat(fromHex('C2020015CB20'), encryptedPrivateKey));
}

/** EXTERNAL AUTHENTICATE with a master key: `00 82 00 00 10` SM4-ECB(MK, R) [issuance §8.2]. */
export function caExternalAuthenticate(masterKey: Uint8Array, challenge: Uint8Array): CommandApdu {
  lenParam(masterKey, [16], 'masterKey');
  return cmd(0x00, 0x82, 0x00, 0x00, encryptEcb('sm4', masterKey, challengeBlock(challenge)));
}

function secured(ins: number, p1: number, p2: number, key: Uint8Array, plain: Uint8Array, challenge: Uint8Array): CommandApdu {
  // [issuance §7 CA row, §8.2] E = SM4-ECB(K, plain); MAC = SM4-CBC, IV = R, over header ‖ E, fold XOR.
  const e = encryptEcb('sm4', key, plain);
  const header = Uint8Array.of(0x84, ins, p1, p2, e.length + 4);
  const mac = cardMac({ algorithm: 'sm4', key }, concat(header, e), challengeBlock(challenge));
  return cmd(0x84, ins, p1, p2, concat(e, mac));
}

/**
 * CHANGE admin PIN `84 5E 01 00 14 E ‖ MAC`, E = SM4-ECB(K_oldadmin, `04` ‖ new PIN ‖ `80` ‖ 00…)
 * [issuance §8.2].
 * @throws ProtocolError `PROTO_ERR_ISSUANCE_PARAM` on a bad PIN, key or challenge.
 */
export function caChangeAdminPin(oldAdminKey: Uint8Array, newPin: string, challenge: Uint8Array): CommandApdu {
  lenParam(oldAdminKey, [16], 'oldAdminKey');
  const p = pinBcd('admin', newPin);
  const plain = new Uint8Array(16);
  plain[0] = p.length;
  plain.set(p, 1);
  plain[1 + p.length] = 0x80;
  return secured(0x5e, 0x01, 0x00, oldAdminKey, plain, challenge);
}

/**
 * CHANGE master key `84 D4 01 00 24 E ‖ MAC`, E = SM4-ECB(MK_old, `13 00 00 00` ‖ MK_new ‖ `80`
 * ‖ 11 × `00`) [issuance §8.2, vector §8.4].
 * @throws ProtocolError `PROTO_ERR_ISSUANCE_PARAM` on keys not 16 bytes or a bad challenge.
 */
export function caChangeMasterKey(oldKey: Uint8Array, newKey: Uint8Array, challenge: Uint8Array): CommandApdu {
  lenParam(oldKey, [16], 'oldKey');
  lenParam(newKey, [16], 'newKey');
  param(!oldKey.every((x, i) => x === newKey[i]), 'new master key must differ from the old one', 'newKey');
  const plain = concat(fromHex('13000000'), newKey, fromHex('80'), new Uint8Array(11));
  return secured(0xd4, 0x01, 0x00, oldKey, plain, challenge);
}

/**
 * SELECT of a certificate EF and the UPDATE BINARY chunks that write its DER bytes (exact length,
 * `70`-byte chunks as KIOSK-ZJ) [issuance §8.2].
 * @throws ProtocolError `PROTO_ERR_ISSUANCE_PARAM` on an empty or over-4 KiB certificate.
 */
export function caWriteCertificate(which: 'sign' | 'enc', der: Uint8Array, chunk = 0x70): CommandApdu[] {
  param(der.length >= 1 && der.length <= 4096, 'certificate must be 1–4096 bytes', 'der');
  param(Number.isInteger(chunk) && chunk >= 1 && chunk <= 0xff, 'chunk must be 1–255', 'chunk');
  const fid = which === 'sign' ? CA_FILES.signCert : CA_FILES.encCert;
  const out: CommandApdu[] = [cmd(0x00, 0xa4, 0x00, 0x00, Uint8Array.of(fid >> 8, fid & 0xff))];
  for (let off = 0; off < der.length; off += chunk) out.push(cmd(0x00, 0xd6, off >> 8, off & 0xff, der.slice(off, off + chunk)));
  return out;
}
