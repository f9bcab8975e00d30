/**
 * Mock online verification service of the e-card platform [ONECARD, docs/ecard-qr.md §5]: a small
 * HTTP server on 127.0.0.1. `POST /verify {"code"}` answers `{"status"}`: `ok` the first time for a
 * code this service issued and that is still valid, then `used` (single use); `expired`, `revoked`
 * (holder revoked through {@link EcardService.revoke}) or `unknown`. `POST /issue` with an
 * {@link EcardHolder} body issues a code (for front-end developers). Time comes from the injected clock.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { issueEcardCode, ecardIssuerPublicKey, type EcardHolder, type IssueOptions, type IssuedEcardCode } from './issuer.ts';
import { SimulatorError } from '../errors.ts';

export interface EcardServiceOptions extends IssueOptions {
  /** TCP port on 127.0.0.1 (0 = any free port, the default). */
  readonly port?: number;
  /** Seconds of clock skew tolerated when deciding `expired` (default 5). */
  readonly skewSeconds?: number;
}

export interface EcardService {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Issuer public key, hex `04‖x‖y`. */
  readonly publicKey: string;
  issue(holder: EcardHolder, opts?: { readonly ttlSeconds?: number }): IssuedEcardCode;
  revoke(holderRef: string): void;
  /** Requests answered so far, by status (for tests). */
  readonly counts: Readonly<Record<string, number>>;
  close(): Promise<void>;
}

interface Issued {
  readonly holderRef: string;
  readonly expiresAt: number;
  used: boolean;
}

const normalise = (code: string): string => code.trim().toUpperCase();

async function readJson(req: IncomingMessage, limit = 8192): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new SimulatorError('SIM_ERR_INVALID_ARGUMENT', 'request body too large');
    chunks.push(c as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Starts the mock service; resolves once it listens. */
export async function startEcardService(opts: EcardServiceOptions): Promise<EcardService> {
  const issued = new Map<string, Issued>();
  const revoked = new Set<string>();
  const counts: Record<string, number> = {};
  const skew = opts.skewSeconds ?? 5;
  const issue = (holder: EcardHolder, o: { readonly ttlSeconds?: number } = {}): IssuedEcardCode => {
    const ttl = o.ttlSeconds ?? opts.ttlSeconds;
    const r = issueEcardCode(holder, { ...opts, ...(ttl === undefined ? {} : { ttlSeconds: ttl }) });
    issued.set(normalise(r.code), { holderRef: holder.holderRef.toUpperCase(), expiresAt: r.expiresAt, used: false });
    return r;
  };
  const verify = (code: string): string => {
    const rec = issued.get(normalise(code));
    if (rec === undefined) return 'unknown';
    if (revoked.has(rec.holderRef)) return 'revoked';
    if (opts.clock() / 1000 > rec.expiresAt + skew) return 'expired';
    if (rec.used) return 'used';
    rec.used = true;
    return 'ok';
  };
  const server = createServer((req, res) => {
    void (async () => {
      try {
        if (req.method === 'POST' && req.url === '/verify') {
          const body = (await readJson(req)) as { code?: unknown };
          if (typeof body?.code !== 'string') return send(res, 400, { error: 'code (string) required' });
          const status = verify(body.code);
          counts[status] = (counts[status] ?? 0) + 1;
          return send(res, 200, { status });
        }
        if (req.method === 'POST' && req.url === '/issue') {
          const body = (await readJson(req)) as EcardHolder & { ttlSeconds?: number };
          const r = issue(body, body.ttlSeconds === undefined ? {} : { ttlSeconds: body.ttlSeconds });
          return send(res, 200, { code: r.code, expiresAt: r.expiresAt });
        }
        return send(res, 404, { error: 'not found' });
      } catch (e) {
        return send(res, 400, { error: e instanceof Error ? e.message : String(e) });
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    publicKey: ecardIssuerPublicKey(opts.key),
    issue,
    revoke: (ref) => void revoked.add(ref.toUpperCase()),
    counts,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
