/**
 * The key-block protection key (KBPK, TR-31 usage `K1`, AES-256) on the terminal side: a thin
 * layer over `@onecard/protocol/fleet` (`deriveKbpk`, the one derivation the server runs too)
 * that reports failures with the terminal's own error code.
 */
import { deriveKbpk as deriveKbpkShared, type PrivateKeyInput, type PublicKeyInput } from '@onecard/protocol/fleet';
import { isProtocolError } from '@onecard/protocol/errors';
import { TerminalError } from '../errors.ts';

export { KBPK_INFO, KBPK_LENGTH, type PrivateKeyInput, type PublicKeyInput } from '@onecard/protocol/fleet';

/**
 * KBPK = HKDF-SHA256(ECDH-P256(privateKey, peerPublicKey), salt = terminal id, info = KBPK_INFO, 32).
 * @throws TerminalError `TERM_ERR_KBPK` (not P-256 keys, malformed keys, empty terminal id)
 */
export function deriveKbpk(privateKey: PrivateKeyInput, peerPublicKey: PublicKeyInput, terminalId: string): Uint8Array {
  try {
    return deriveKbpkShared(privateKey, peerPublicKey, terminalId);
  } catch (cause) {
    if (isProtocolError(cause, 'PROTO_ERR_FLEET_KBPK')) throw new TerminalError('TERM_ERR_KBPK', cause.message, { ...cause.details }, { cause });
    throw cause;
  }
}
