/**
 * The login assertion a terminal sends the fleet server once a cardholder has proved, at this
 * terminal, that they hold a genuine card and know its PIN (docs/login.md): a compact JWS, ES256
 * under the terminal's enrolled P-256 identity key, header `kid` = terminal id. Its payload binds
 * the card to one pending login (`login` code and the login's `nonce`) and lives at most
 * {@link ASSERTION_TTL_SECONDS} (the server takes up to 120 s) [docs/login.md §3.2]. The server accepts it once, from an active terminal in a group
 * allowed to authenticate. The private key stays a KeyObject in memory; the assertion carries the
 * holder's ID number and name for the provider only and is never logged.
 */
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { TerminalError } from '../errors.ts';

/** Longest life of an assertion, seconds (`exp − iat`). */
export const ASSERTION_TTL_SECONDS = 60;

/** Authentication methods a card login at a terminal proves [RFC 8176]: hardware key (genuine card) and PIN. */
export const CARD_LOGIN_AMR = ['hwk', 'pin'] as const;

/** The holder as read from the genuine card. */
export interface AssertedCard {
  readonly cardNumber: string;
  /** The social security number (citizen ID number) on the card. */
  readonly idNumber: string;
  readonly name: string;
}

/** The payload of a login assertion. */
export interface LoginAssertionClaims {
  readonly login: string;
  readonly nonce: string;
  readonly card: AssertedCard;
  readonly amr: readonly string[];
  readonly genuine: true;
  readonly iat: number;
  readonly exp: number;
}

const b64url = (b: Uint8Array | string): string => Buffer.from(b).toString('base64url');

/**
 * Signs a login assertion (compact JWS, ES256, `kid` = `terminalId`) at `nowMs`.
 * @throws TerminalError `TERM_ERR_INVALID_ARGUMENT` when the key is not a P-256 private key
 */
export function signLoginAssertion(o: {
  readonly privateKey: KeyObject;
  readonly terminalId: string;
  readonly login: string;
  readonly nonce: string;
  readonly card: AssertedCard;
  readonly nowMs: number;
  /** Seconds, at most {@link ASSERTION_TTL_SECONDS} (default). */
  readonly ttlSeconds?: number;
}): string {
  const k = o.privateKey;
  if (k.type !== 'private' || k.asymmetricKeyType !== 'ec' || k.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', 'login assertions are signed with the P-256 identity key');
  }
  const ttl = Math.min(o.ttlSeconds ?? ASSERTION_TTL_SECONDS, ASSERTION_TTL_SECONDS);
  const iat = Math.floor(o.nowMs / 1000);
  const claims: LoginAssertionClaims = {
    login: o.login, nonce: o.nonce,
    card: { cardNumber: o.card.cardNumber, idNumber: o.card.idNumber, name: o.card.name },
    amr: [...CARD_LOGIN_AMR], genuine: true, iat, exp: iat + ttl,
  };
  const input = `${b64url(JSON.stringify({ alg: 'ES256', typ: 'onecard-login+jwt', kid: o.terminalId }))}.${b64url(JSON.stringify(claims))}`;
  // [RFC 7518 §3.4] ES256 signatures are R ‖ S, 32 bytes each (not DER).
  const sig = sign('sha256', Buffer.from(input, 'ascii'), { key: k, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(sig)}`;
}

/**
 * Checks an assertion's signature against a P-256 public key (SPKI DER base64, as enrolment keeps
 * it) and returns its header and claims; `undefined` when the signature or the shape is wrong.
 * Used by tests and tools; the server has its own verifier.
 */
export function readLoginAssertion(jws: string, publicKeySpki: string): { header: Record<string, unknown>; claims: LoginAssertionClaims } | undefined {
  const parts = jws.split('.');
  if (parts.length !== 3) return undefined;
  const [h, p, s] = parts as [string, string, string];
  const key = createPublicKey({ key: Buffer.from(publicKeySpki, 'base64'), format: 'der', type: 'spki' });
  if (!verify('sha256', Buffer.from(`${h}.${p}`, 'ascii'), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'))) return undefined;
  try {
    return { header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>, claims: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as LoginAssertionClaims };
  } catch {
    return undefined;
  }
}
