/**
 * Offline verification of OneCard e-card codes [ONECARD, docs/ecard-qr.md §4]: decode, trusted key
 * lookup by key ID, SM2/SM3 signature, validity window against an injected clock with a skew
 * tolerance, replay refusal through a nonce cache bounded by expiry (kept on disk with
 * `replayFile`, so a restart forgets no used code), then optional online confirmation through a
 * pluggable {@link EcardOnlineVerifier}. The order matters: nothing is recorded in the replay
 * cache unless the signature and the time window are good.
 */
import { sm2Verify, sm2ValidatePublicKey } from '@onecard/protocol/crypto';
import { toHex } from '@onecard/protocol/bytes';
import { TerminalError } from '../errors.ts';
import { ecardKeyId, ecardTokenFromText, type EcardPurpose, type EcardToken } from './token.ts';
import { openEcardReplayLog } from './replay-log.ts';

/** Answer of an online verification service for one code. */
export type EcardOnlineStatus = 'ok' | 'used' | 'revoked' | 'expired' | 'unknown';

/** Adapter to the platform's online check (mock service, provincial gateway, …). */
export interface EcardOnlineVerifier {
  /**
   * Asks the platform about `code` (the full text). Resolves with its status; rejects (any error)
   * when the service cannot be reached or answers nonsense.
   */
  confirm(code: string, token: EcardToken): Promise<{ status: EcardOnlineStatus }>;
}

/** A platform public key the terminal trusts. */
export interface EcardTrustedKey {
  /** Uncompressed SM2 public key `04‖x‖y` (65 bytes). */
  readonly publicKey: Uint8Array;
  /** Optional label for logs and results (e.g. `platform-2026`). */
  readonly label?: string;
}

export interface EcardVerifierOptions {
  readonly keys: readonly EcardTrustedKey[];
  /** Milliseconds since the Unix epoch. */
  readonly clock: () => number;
  /** Allowed clock difference between issuer and terminal, seconds (default 5). */
  readonly skewSeconds?: number;
  /** Refuse codes whose validity exceeds this many seconds (default 120). */
  readonly maxTtlSeconds?: number;
  /** Most nonces held at once (default 10 000); beyond it new codes are refused. */
  readonly replayCacheSize?: number;
  /**
   * File that keeps used codes across restarts (in the terminal's data dir). Each accepted code
   * is fsync'd there before `verify` resolves; without it the memory is per process.
   */
  readonly replayFile?: string;
  /** Accepted purposes; all when absent. */
  readonly purposes?: readonly EcardPurpose[];
  readonly online?: EcardOnlineVerifier;
  /** `required`: an unreachable service fails the code; `best-effort` (default): it is noted in the result. */
  readonly onlineMode?: 'required' | 'best-effort';
}

/** A verified holder identification. */
export interface EcardIdentity {
  readonly holderRef: string;
  readonly maskedId: string;
  readonly maskedName: string;
  readonly region: string;
  readonly purpose: EcardPurpose;
  /** ISO 8601. */
  readonly issuedAt: string;
  readonly expiresAt: string;
  readonly keyId: string;
  readonly keyLabel?: string;
  readonly online: 'confirmed' | 'skipped' | 'unavailable';
}

export interface EcardVerifier {
  /**
   * Verifies one scanned code. Rejects with `TerminalError` codes TERM_ERR_ECARD_FORMAT,
   * _MALFORMED, _VERSION, _UNKNOWN_KEY, _SIGNATURE, _NOT_YET_VALID, _EXPIRED, _REPLAYED,
   * _REPLAY_CACHE_FULL, _ONLINE_REJECTED, _ONLINE_UNAVAILABLE, or TERM_ERR_INVALID_ARGUMENT
   * for a purpose this terminal does not accept.
   */
  verify(code: string): Promise<EcardIdentity>;
  /** Nonces currently remembered (after pruning expired ones). */
  replayCacheSize(): number;
  /** Waits for pending replay-file writes and closes the file (absent on verifiers without one). */
  close?(): Promise<void>;
}

/**
 * Builds a verifier. Throws `TERM_ERR_INVALID_ARGUMENT` for a trusted key that is not a valid
 * SM2 public key or for bad option values, `TERM_ERR_ECARD_REPLAY_STORE` for an unreadable
 * `replayFile`.
 */
export function createEcardVerifier(opts: EcardVerifierOptions): EcardVerifier {
  const skew = opts.skewSeconds ?? 5;
  const maxTtl = opts.maxTtlSeconds ?? 120;
  const capacity = opts.replayCacheSize ?? 10_000;
  if (!(skew >= 0) || !(maxTtl >= 1) || !(capacity >= 1)) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', 'skewSeconds, maxTtlSeconds and replayCacheSize must be positive');
  const keys = new Map<string, EcardTrustedKey>();
  for (const [i, k] of opts.keys.entries()) {
    try {
      sm2ValidatePublicKey(k.publicKey);
    } catch (e) {
      throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', `keys[${i}] is not an SM2 public key`, { field: `keys[${i}]` }, { cause: e });
    }
    keys.set(toHex(ecardKeyId(k.publicKey)), k);
  }
  // nonce (keyId:nonce) → expiry in ms; a Map keeps insertion order, which is close to expiry order
  const seen = new Map<string, number>();
  const log = opts.replayFile === undefined ? undefined : openEcardReplayLog(opts.replayFile, opts.clock());
  for (const [k, exp] of log?.loaded ?? []) seen.set(k, exp);
  const prune = (now: number): void => {
    for (const [n, exp] of seen) if (exp < now) seen.delete(n);
  };

  return {
    replayCacheSize: () => {
      prune(opts.clock());
      return seen.size;
    },
    close: async () => log?.close(),
    async verify(code) {
      const token = ecardTokenFromText(code);
      const keyId = toHex(token.keyId);
      const key = keys.get(keyId);
      if (key === undefined) throw new TerminalError('TERM_ERR_ECARD_UNKNOWN_KEY', `key ID ${keyId}`, { keyId });
      // [GB/T 32918.2 §7.1] signature over every byte before it, default distinguishing ID
      if (!sm2Verify(key.publicKey, token.signed, token.signature)) throw new TerminalError('TERM_ERR_ECARD_SIGNATURE', undefined, { keyId });
      if (token.ttl > maxTtl) throw new TerminalError('TERM_ERR_ECARD_MALFORMED', `ttl: ${token.ttl} s exceeds the ${maxTtl} s this terminal accepts`, { field: 'ttl' });
      if (opts.purposes !== undefined && !opts.purposes.includes(token.purpose)) {
        throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', `purpose ${token.purpose} not accepted here`, { field: 'purpose' });
      }
      const now = opts.clock();
      const issuedMs = token.issuedAt * 1000;
      const expiresMs = issuedMs + token.ttl * 1000;
      if (now < issuedMs - skew * 1000) throw new TerminalError('TERM_ERR_ECARD_NOT_YET_VALID', `issued ${Math.round((issuedMs - now) / 1000)} s ahead of this terminal`);
      if (now > expiresMs + skew * 1000) throw new TerminalError('TERM_ERR_ECARD_EXPIRED', `expired ${Math.round((now - expiresMs) / 1000)} s ago`);
      prune(now);
      const nonceKey = `${keyId}:${toHex(token.nonce)}`;
      if (seen.has(nonceKey)) throw new TerminalError('TERM_ERR_ECARD_REPLAYED');
      if (seen.size >= capacity) throw new TerminalError('TERM_ERR_ECARD_REPLAY_CACHE_FULL', `${seen.size} codes pending`);
      // kept until the code could no longer pass the time check
      seen.set(nonceKey, expiresMs + skew * 1000);
      // Durable before anyone is told the code is good: a crash after the answer cannot reopen it.
      // If the write fails the code stays refused in this process and the holder gets a new code.
      if (log !== undefined) await log.record(nonceKey, expiresMs + skew * 1000, () => seen.entries());

      let online: EcardIdentity['online'] = 'skipped';
      if (opts.online !== undefined) {
        let status: EcardOnlineStatus;
        try {
          ({ status } = await opts.online.confirm(code.trim(), token));
        } catch (e) {
          if (opts.onlineMode === 'required') throw new TerminalError('TERM_ERR_ECARD_ONLINE_UNAVAILABLE', undefined, {}, { cause: e });
          status = 'ok';
          online = 'unavailable';
        }
        if (online !== 'unavailable') {
          if (status !== 'ok') throw new TerminalError('TERM_ERR_ECARD_ONLINE_REJECTED', status, { status });
          online = 'confirmed';
        }
      }
      return {
        holderRef: toHex(token.holderRef),
        maskedId: token.maskedId,
        maskedName: token.maskedName,
        region: token.region,
        purpose: token.purpose,
        issuedAt: new Date(issuedMs).toISOString(),
        expiresAt: new Date(expiresMs).toISOString(),
        keyId,
        ...(key.label === undefined ? {} : { keyLabel: key.label }),
        online,
      };
    },
  };
}
