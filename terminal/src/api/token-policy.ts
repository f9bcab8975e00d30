/**
 * What the local API accepts as its token: long enough to resist guessing, not a sample
 * placeholder, not a run of a few repeated characters, and compared in constant time. Used by
 * the config validation (`api.token`), by {@link buildLocalApi} (token from the environment) and
 * by the request check.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Shortest token accepted (e.g. `openssl rand -hex 32` gives 64). */
export const MIN_TOKEN_LENGTH = 24;
export const MAX_TOKEN_LENGTH = 256;
/** Words that mark a token copied from a sample or a template. */
const PLACEHOLDER = /change[-_ ]?me|placeholder|replace[-_ ]?(me|this|with)|example|your[-_ ]?token|long[-_]random[-_]token/i;

/** Why `token` is unfit as the API token, or `undefined` when it is acceptable. */
export function apiTokenProblem(token: string): string | undefined {
  if (token.length < MIN_TOKEN_LENGTH || token.length > MAX_TOKEN_LENGTH) return `must be ${MIN_TOKEN_LENGTH}..${MAX_TOKEN_LENGTH} characters (e.g. openssl rand -hex 32)`;
  if (!/^[\x21-\x7e]+$/.test(token)) return 'must be printable ASCII without spaces';
  if (PLACEHOLDER.test(token)) return 'is a placeholder from a sample: generate a random one (e.g. openssl rand -hex 32)';
  if (new Set(token).size < 10) return 'has too few distinct characters to be random';
  return undefined;
}

/** Constant-time comparison: both sides are hashed first, so neither content nor length leaks through timing. */
export function sameToken(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}
