/**
 * HTTP adapter for an online e-card check [ONECARD, docs/ecard-qr.md §5]: `POST {url}` with JSON
 * `{"code": "..."}`, answer JSON `{"status": "ok"|"used"|"revoked"|"expired"|"unknown"}`. Platform
 * SDK adapters implement the same {@link EcardOnlineVerifier} interface.
 */
import type { EcardOnlineStatus, EcardOnlineVerifier } from './verifier.ts';
import { readBounded } from '../updater/download.ts';

/** Largest answer read from the verification service (the real one is a few dozen bytes). */
export const MAX_ONLINE_ANSWER_BYTES = 16 * 1024;

const STATUSES: readonly EcardOnlineStatus[] = ['ok', 'used', 'revoked', 'expired', 'unknown'];

export interface HttpOnlineVerifierOptions {
  /** Full URL of the verify endpoint, e.g. `http://127.0.0.1:8931/verify`. */
  readonly url: string;
  /** Request timeout, ms (default 3000). */
  readonly timeoutMs?: number;
  /** Extra request headers (platform ID, credentials). */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Online verifier over HTTP using the global `fetch`. Rejects on network errors, non-2xx answers,
 * answers over {@link MAX_ONLINE_ANSWER_BYTES} (not read further) and unknown statuses.
 */
export function createHttpOnlineVerifier(opts: HttpOnlineVerifierOptions): EcardOnlineVerifier {
  return {
    async confirm(code) {
      const res = await fetch(opts.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...opts.headers },
        body: JSON.stringify({ code }),
        signal: AbortSignal.timeout(opts.timeoutMs ?? 3000),
      });
      if (!res.ok) {
        await res.body?.cancel().catch(() => undefined);
        throw new Error(`verification service answered HTTP ${res.status}`);
      }
      const bytes = await readBounded(res, MAX_ONLINE_ANSWER_BYTES, 'verification answer', () => new Error(`verification service answer over ${MAX_ONLINE_ANSWER_BYTES} bytes`));
      let body: { status?: unknown };
      try {
        body = JSON.parse(Buffer.from(bytes).toString('utf8')) as { status?: unknown };
      } catch {
        throw new Error('verification service answered something that is not JSON');
      }
      if (typeof body !== 'object' || body === null) throw new Error('verification service answer is not an object');
      const status = STATUSES.find((s) => s === body.status);
      if (status === undefined) throw new Error(`verification service answered status ${JSON.stringify(body.status)}`);
      return { status };
    },
  };
}
