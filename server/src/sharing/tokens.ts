/**
 * Department credentials and access tokens (OAuth 2.0 client credentials grant, RFC 6749 §4.4).
 * The interface the sharing routes depend on is {@link AccessTokenVerifier}: today served by
 * {@link StoreTokenService} (opaque random tokens, only their SHA-256 stored, short-lived); the
 * card-login OpenID Provider could serve it instead by resolving its own client-credentials
 * tokens to a department, without any change to the routes.
 */
import { randomBytes } from 'node:crypto';
import { hashToken, sameHash } from '../crypto-util.ts';
import type { DepartmentRecord, RegistryStore } from '../store/registry-types.ts';

/** What a valid access token stands for. */
export interface TokenGrant {
  readonly departmentId: string;
  readonly expiresAt: number;
  /**
   * The department as read together with the token (one store read per call); a verifier that
   * cannot give it leaves it out and the routes read the department themselves. Never cached: a
   * disabled department or a changed purpose list applies to the very next call.
   */
  readonly department?: DepartmentRecord;
}

/** Resolves a bearer token presented to `/sharing/v1` to the department it was issued to. */
export interface AccessTokenVerifier {
  /** The grant, or undefined when the token is unknown or expired at `now`. */
  verify(token: string, now: number): Promise<TokenGrant | undefined>;
}

/** Issues access tokens at the token endpoint after client authentication. */
export interface AccessTokenIssuer {
  /** The department of a client id and secret, or undefined (unknown, wrong secret, disabled). */
  authenticateClient(clientId: string, clientSecret: string): Promise<DepartmentRecord | undefined>;
  issue(departmentId: string, now: number): Promise<{ accessToken: string; expiresIn: number }>;
}

/** A new client secret (256 random bits) and its hash. */
export function newClientSecret(): { secret: string; hash: string } {
  const secret = `ocdsec_${randomBytes(32).toString('base64url')}`;
  return { secret, hash: hashToken(secret) };
}

/** The store-backed token service: opaque tokens, SHA-256 at rest, `ttlSeconds` lifetime. */
export class StoreTokenService implements AccessTokenVerifier, AccessTokenIssuer {
  readonly #store: RegistryStore;
  readonly #ttlMs: number;
  #issued = 0;

  constructor(store: RegistryStore, ttlSeconds: number) {
    this.#store = store;
    this.#ttlMs = ttlSeconds * 1000;
  }

  async authenticateClient(clientId: string, clientSecret: string): Promise<DepartmentRecord | undefined> {
    const d = await this.#store.findDepartmentByClientId(clientId);
    // Hash compared in constant time; an unknown client costs the same hash.
    const h = hashToken(clientSecret);
    if (d === undefined || !sameHash(h, d.secretHash) || d.disabledAt !== null) return undefined;
    const { secretHash: _omit, ...rec } = d;
    return rec;
  }

  async issue(departmentId: string, now: number): Promise<{ accessToken: string; expiresIn: number }> {
    const accessToken = `ocdtok_${randomBytes(32).toString('base64url')}`;
    await this.#store.putAccessToken(hashToken(accessToken), { departmentId, expiresAt: now + this.#ttlMs, createdAt: now });
    // Expired tokens are swept now and then, never needed for correctness (verify checks expiry).
    if (++this.#issued % 100 === 0) await this.#store.purgeAccessTokens(now);
    return { accessToken, expiresIn: Math.floor(this.#ttlMs / 1000) };
  }

  async verify(token: string, now: number): Promise<TokenGrant | undefined> {
    if (!/^ocdtok_[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
    const rec = await this.#store.getAccessTokenWithDepartment(hashToken(token));
    if (rec === undefined || rec.token.expiresAt <= now) return undefined;
    return { departmentId: rec.token.departmentId, expiresAt: rec.token.expiresAt, department: rec.department };
  }
}
