/**
 * A {@link RegionalServices} adapter over OneCard's reference HTTP wire format (served by
 * `simulators/src/issuance/region-server.ts`): `POST <url>/<method>` with a JSON body, each request
 * signed with HMAC-SHA256 over path, a fresh 16-byte nonce, the time and the body under a secret
 * shared with the region, and each answer's signature (over the request's nonce and the answer
 * body) verified, so HSM answers are neither forged nor replayed [issue 20; domain §11 item 9].
 * Regions with their own protocols write their own adapter against the same interface.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { fromHex } from '@onecard/protocol/bytes';
import { formatHsmStep1, type CardData, type HsmAuthRequest, type IssuanceApplication, type MarkResult, type RegionalServices, type ReturnCardData } from '@onecard/protocol/issuance';
import { TerminalError } from '../errors.ts';

const sign = (secret: Uint8Array, ...parts: string[]): string => createHmac('sha256', secret).update(parts.join('\n')).digest('hex');

/**
 * The adapter. Every method rejects `TERM_ERR_ISSUANCE_BACK_OFFICE` (details.reason: the region's
 * reason, `unreachable`, `signature` or `malformed`).
 */
export function httpRegionalServices(o: { readonly url: string; readonly region: string; readonly secret: Uint8Array; readonly fetch?: typeof fetch; readonly timeoutMs?: number; readonly now?: () => number }): RegionalServices {
  const doFetch = o.fetch ?? fetch;
  const call = async (method: string, body: unknown): Promise<Record<string, unknown>> => {
    const path = `/${method}`;
    const nonce = randomBytes(16).toString('hex');
    const time = String((o.now ?? Date.now)());
    const text = JSON.stringify(body);
    let res: Response;
    try {
      res = await doFetch(`${o.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-onecard-nonce': nonce, 'x-onecard-time': time, 'x-onecard-signature': sign(o.secret, path, nonce, time, text) },
        body: text,
        signal: AbortSignal.timeout(o.timeoutMs ?? 15_000),
      });
    } catch (e) {
      throw new TerminalError('TERM_ERR_ISSUANCE_BACK_OFFICE', 'unreachable', { reason: 'unreachable' }, { cause: e });
    }
    const answer = await res.text();
    const sig = res.headers.get('x-onecard-signature') ?? '';
    const expected = sign(o.secret, nonce, answer);
    if (sig.length !== expected.length || !timingSafeEqual(Buffer.from(sig), Buffer.from(expected))) throw new TerminalError('TERM_ERR_ISSUANCE_BACK_OFFICE', 'signature', { reason: 'signature' });
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(answer) as Record<string, unknown>;
    } catch (e) {
      throw new TerminalError('TERM_ERR_ISSUANCE_BACK_OFFICE', 'malformed', { reason: 'malformed' }, { cause: e });
    }
    if (res.status !== 200) {
      const reason = typeof parsed['reason'] === 'string' ? parsed['reason'] : `http-${res.status}`;
      throw new TerminalError('TERM_ERR_ISSUANCE_BACK_OFFICE', reason, { reason });
    }
    return parsed;
  };
  return {
    region: o.region,
    markCard: async (app: IssuanceApplication) => (await call('markCard', app)) as unknown as MarkResult,
    getCardData: async (jobId, batch) => (await call('getCardData', { jobId, batch })) as unknown as CardData,
    returnCardData: async (r: ReturnCardData) => {
      await call('returnCardData', r);
    },
    enableCard: async (jobId, cardNumber) => {
      await call('enableCard', { jobId, cardNumber });
    },
    async hsmExternalAuth(req: HsmAuthRequest) {
      const a = await call('hsmExternalAuth', { jobId: req.jobId, region: req.region, cardId: req.cardId, historicalBytes: req.historicalBytes, step1: formatHsmStep1(req.step1) });
      const pKey = a['pKey'];
      if (typeof pKey !== 'string' || !/^[0-9A-Fa-f]{32}$/.test(pKey)) throw new TerminalError('TERM_ERR_ISSUANCE_BACK_OFFICE', 'malformed', { reason: 'malformed' });
      return fromHex(pKey);
    },
  };
}
