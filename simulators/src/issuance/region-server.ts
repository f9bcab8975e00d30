/**
 * A region's back office over HTTP, for tests that run the terminal in another process: serves a
 * {@link RegionalServices} (normally {@link FakeRegion}) as `POST /<method>` with JSON bodies
 * (bytes as hex). [ONECARD] Requests and answers are signed with HMAC-SHA256 under a secret shared
 * with the terminal: the request signature covers a fresh nonce, the time and the body, a reused
 * nonce or a time more than 5 minutes off is refused (replay), and the answer's signature covers
 * the request's nonce and the answer body, so an answer cannot be replayed to another request.
 * This is OneCard's reference wire format for a region adapter, not any province's protocol.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { toHex } from '@onecard/protocol/bytes';
import { parseHsmStep1, formatHsmStep1, type RegionalServices } from '@onecard/protocol/issuance';

/** Signature of a message: hex HMAC-SHA256 over the parts joined by `\n`. */
export function regionSignature(secret: Uint8Array, ...parts: string[]): string {
  return createHmac('sha256', secret).update(parts.join('\n')).digest('hex');
}

export interface RegionServer {
  readonly url: string;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;

/** Serves `region` on 127.0.0.1 (port 0 by default). */
export async function serveRegion(region: RegionalServices, opts: { readonly secret: Uint8Array; readonly port?: number; readonly now?: () => number }): Promise<RegionServer> {
  const seen = new Map<string, number>();
  const now = opts.now ?? Date.now;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const nonce = String(req.headers['x-onecard-nonce'] ?? '');
      const time = String(req.headers['x-onecard-time'] ?? '');
      const sig = String(req.headers['x-onecard-signature'] ?? '');
      const reply = (status: number, answer: unknown): void => {
        const text = JSON.stringify(answer);
        res.writeHead(status, { 'content-type': 'application/json', 'x-onecard-signature': regionSignature(opts.secret, nonce, text) });
        res.end(text);
      };
      const expected = regionSignature(opts.secret, req.url ?? '', nonce, time, body);
      if (sig.length !== expected.length || !timingSafeEqual(Buffer.from(sig), Buffer.from(expected))) return reply(401, { reason: 'signature' });
      const t = Number(time);
      if (!/^[0-9a-f]{32}$/.test(nonce) || !Number.isFinite(t) || Math.abs(now() - t) > 300_000) return reply(409, { reason: 'replay' });
      for (const [n, at] of seen) if (now() - at > 600_000) seen.delete(n);
      if (seen.has(nonce)) return reply(409, { reason: 'replay' });
      seen.set(nonce, now());
      void dispatch(region, req.url ?? '', body).then(
        (answer) => reply(200, answer ?? {}),
        (err: unknown) => {
          const reason = (err as { details?: { reason?: unknown } }).details?.reason;
          reply(409, { reason: typeof reason === 'string' ? reason : 'refused' });
        },
      );
    });
  });
  await new Promise<void>((res) => server.listen(opts.port ?? 0, '127.0.0.1', () => res()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((res) => server.close(() => res())) };
}

async function dispatch(region: RegionalServices, path: string, body: string): Promise<unknown> {
  const b = JSON.parse(body) as Record<string, unknown>;
  switch (path) {
    case '/markCard':
      return region.markCard(b as never);
    case '/getCardData':
      return region.getCardData(String(b['jobId']), String(b['batch']));
    case '/returnCardData':
      return region.returnCardData(b as never);
    case '/enableCard':
      return region.enableCard(String(b['jobId']), String(b['cardNumber']));
    case '/hsmExternalAuth': {
      const step1 = parseHsmStep1(String(b['step1']));
      const pKey = await region.hsmExternalAuth({ jobId: String(b['jobId']), region: String(b['region']), cardId: String(b['cardId']), historicalBytes: String(b['historicalBytes']), step1 });
      return { pKey: toHex(pKey), step1: formatHsmStep1(step1) };
    }
    default:
      throw Object.assign(new Error('unknown method'), { details: { reason: 'unknown-method' } });
  }
}
