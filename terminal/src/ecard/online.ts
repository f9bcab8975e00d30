/**
 * HTTP adapter for an online e-card check [ONECARD, docs/ecard-qr.md §5]: `POST {url}` with JSON
 * `{"code": "..."}`, answer JSON `{"status": "ok"|"used"|"revoked"|"expired"|"unknown"}`. Platform
 * SDK adapters implement the same {@link EcardOnlineVerifier} interface.
 */
import type { EcardOnlineStatus, EcardOnlineVerifier } from './verifier.ts';

const STATUSES: readonly EcardOnlineStatus[] = ['ok', 'used', 'revoked', 'expired', 'unknown'];

export interface HttpOnlineVerifierOptions {
  /** Full URL of the verify endpoint, e.g. `http://127.0.0.1:8931/verify`. */
  readonly url: string;
  /** Request timeout, ms (default 3000). */
  readonly timeoutMs?: number;
  /** Extra request headers (platform ID, credentials). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Online verifier over HTTP using the global `fetch`. Rejects on network errors, non-2xx answers and unknown statuses. */
export function createHttpOnlineVerifier(opts: HttpOnlineVerifierOptions): EcardOnlineVerifier {
  return {
    async confirm(code) {
      const res = await fetch(opts.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...opts.headers },
        body: JSON.stringify({ code }),
        signal: AbortSignal.timeout(opts.timeoutMs ?? 3000),
      });
      if (!res.ok) throw new Error(`verification service answered HTTP ${res.status}`);
      const body = (await res.json()) as { status?: unknown };
      const status = STATUSES.find((s) => s === body.status);
      if (status === undefined) throw new Error(`verification service answered status ${JSON.stringify(body.status)}`);
      return { status };
    },
  };
}
