/**
 * The card-login part of the several-servers scenario (multi-server-scenario.ts): both servers run
 * the OpenID Provider with the same master key behind one public URL, a small HTTP balancer on a
 * loopback port whose target the scenario switches (the Host header passes through, as behind a
 * real load balancer). Checks: a signing key rotated through server A is published by server B on
 * its very next request (new key first, the previous one still published), a token A signs after
 * the rotation verifies under B's JWKS, a token signed before it still verifies, and an e-card
 * login started through A completes through B (status, consent, code exchange) with an ID token B
 * signed with the new key. No restart anywhere.
 */
import { createServer, request, type Server } from 'node:http';
import { createPublicKey, verify } from 'node:crypto';
import * as client from 'openid-client';
import { createEcardLoginApp } from '@onecard/simulators';
import { Browser, finishInBrowser, startLogin, type OidcFixture, type Portal } from '../oidc/fixture.ts';
import type { Checks, ServerProcess } from './harness.ts';

/** A loopback HTTP balancer in front of the servers; `target` picks the server each request goes to. */
export interface Balancer {
  readonly url: string;
  target: string | undefined;
  close(): Promise<void>;
}

export async function startBalancer(): Promise<Balancer> {
  const lb: { target: string | undefined } = { target: undefined };
  const server: Server = createServer((req, res) => {
    if (lb.target === undefined) { res.writeHead(502).end(); return; }
    const to = new URL(lb.target);
    const up = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => { if (!res.headersSent) res.writeHead(502); res.end(); });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    get target() { return lb.target; },
    set target(v) { lb.target = v; },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

type Jwk = Record<string, unknown> & { kid: string; d?: string };

async function jwks(http: string): Promise<Jwk[]> {
  return ((await (await fetch(`${http}/oidc/jwks`)).json()) as { keys: Jwk[] }).keys;
}

function kidOf(idToken: string): string {
  return (JSON.parse(Buffer.from(idToken.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
}

/** The ID token's ES256 signature under the key of its `kid` in `keys` [RFC 7515; RFC 7518 §3.4]. */
function verifiesUnder(keys: readonly Jwk[], idToken: string): boolean {
  const [h, p, s] = idToken.split('.') as [string, string, string];
  const jwk = keys.find((k) => k.kid === kidOf(idToken));
  return jwk !== undefined && verify('sha256', Buffer.from(`${h}.${p}`), { key: createPublicKey({ key: jwk as never, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
}

const HOLDER = { cardNumber: 'E55667788', idNumber: '32010619900307001X', name: '赵六' };

export async function crossServerLogin(checks: Checks, a: ServerProcess, b: ServerProcess, lb: Balancer, adminToken: string): Promise<void> {
  const api = async (http: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const r = await fetch(`${http}${path}`, { method, headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await r.text();
    return { status: r.status, json: text === '' ? {} : JSON.parse(text) as Record<string, unknown> };
  };
  const issuer = `${lb.url}/oidc`;
  const ecard = createEcardLoginApp({ holderRef: 'c0ffee01' });
  checks.equal((await api(a.http, 'POST', '/api/v1/ecard-holders', { holderRef: ecard.holderRef, publicKey: ecard.publicKey, ...HOLDER })).status, 201, 'e-card holder registered through A');
  const rp = await api(b.http, 'POST', '/api/v1/relying-parties', { name: '公积金网厅', redirectUris: ['http://127.0.0.1:1/cb'], allowedClaims: ['name'], methods: ['ecard'], minAcr: 'substantial' });
  checks.equal(rp.status, 201, 'portal registered through B');
  lb.target = a.http;
  const config = await client.discovery(new URL(issuer), rp.json.id as string, rp.json.clientSecret as string, undefined, { execute: [client.allowInsecureRequests] });
  const portal: Portal = { id: rp.json.id as string, secret: rp.json.clientSecret as string, redirectUri: 'http://127.0.0.1:1/cb', config };
  const f = { base: lb.url } as OidcFixture;

  /** An e-card login: started through the server `start`, completed (confirmation, status, consent, code exchange) through `finish`. */
  const login = async (start: ServerProcess, finish: ServerProcess): Promise<{ idToken: string; claims: Record<string, unknown> }> => {
    lb.target = start.http;
    const s = await startLogin(f, portal, 'openid name', new Browser());
    lb.target = finish.http;
    const ok = await ecard.confirm(await ecard.scan(`${lb.url}/api/v1/ecard/logins/${s.code}`));
    if (ok.status !== 200) throw new Error(`e-card confirmation ${ok.status} ${JSON.stringify(ok.body)}`);
    const { callback } = await finishInBrowser(f, s);
    const tokens = await client.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: s.verifier, expectedState: s.state });
    return { idToken: tokens.id_token!, claims: tokens.claims() as Record<string, unknown> };
  };

  const before = await login(a, a);
  const k0 = kidOf(before.idToken);
  checks.equal((await jwks(b.http)).map((k) => k.kid), [k0], 'both servers publish the one key');
  const rotated = await api(a.http, 'POST', '/api/v1/oidc/keys/rotate');
  checks.equal(rotated.status, 200, 'signing key rotated through A');
  const k1 = rotated.json.kid as string;
  const onB = await jwks(b.http);
  checks.equal(onB.map((k) => k.kid), [k1, k0], 'B publishes the new key first and the previous one (retiring) right away, without a restart');
  checks.ok(onB.every((k) => k.d === undefined), 'B publishes public keys only');
  const fromA = await login(a, a);
  checks.equal(kidOf(fromA.idToken), k1, 'A signs with the new key');
  checks.ok(verifiesUnder(onB, fromA.idToken), 'a token A signed after the rotation verifies under B’s JWKS');
  checks.ok(verifiesUnder(await jwks(b.http), before.idToken), 'a token signed before the rotation still verifies under B’s JWKS (grace period)');
  const viaB = await login(a, b);
  checks.equal(kidOf(viaB.idToken), k1, 'a login started through A and completed through B: B signs with the new key');
  checks.ok(verifiesUnder(await jwks(a.http), viaB.idToken), 'and it verifies under A’s JWKS');
  checks.equal([viaB.claims.iss, viaB.claims.acr, viaB.claims.amr, viaB.claims.name], [issuer, 'urn:onecard:loa:substantial', ['swk'], HOLDER.name], 'claims: one issuer behind the balancer, e-card assurance, the holder’s name');
  checks.ok(viaB.claims.sub === before.claims.sub && viaB.claims.sub !== HOLDER.idNumber, 'the same pairwise subject whichever server signed, never the ID number');
  lb.target = undefined;
}
