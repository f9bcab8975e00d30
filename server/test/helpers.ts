/** Test helpers: an app over an in-memory SQLite store with a controllable clock and a bootstrap admin. */
import { generateKeyPairSync } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildApp, bootstrapAdminToken, type BuildAppOptions } from '../src/app.ts';
import { openSqliteStore } from '../src/store/sqlite.ts';

export interface TestApp {
  app: FastifyInstance;
  adminToken: string;
  clock: { now(): number; advance(ms: number): void };
  auth(token?: string): { authorization: string };
  tokenFor(role: 'viewer' | 'operator' | 'key-custodian' | 'admin'): Promise<string>;
}

export async function makeTestApp(extra: Partial<BuildAppOptions> = {}): Promise<TestApp> {
  let now = 1_764_300_000_000;
  const clock = { now: () => now, advance: (ms: number) => { now += ms; } };
  const store = openSqliteStore(':memory:');
  const app = await buildApp({ store, clock, ...extra });
  const adminToken = (await bootstrapAdminToken(store, clock))!;
  const auth = (token = adminToken) => ({ authorization: `Bearer ${token}` });
  const tokenFor = async (role: 'viewer' | 'operator' | 'key-custodian' | 'admin') => {
    const r = await app.inject({ method: 'POST', url: '/api/v1/admin/tokens', headers: auth(), payload: { name: role, role } });
    return (r.json() as { token: string }).token;
  };
  return { app, adminToken, clock, auth, tokenFor };
}

export function newTerminalKey(): string {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
}
