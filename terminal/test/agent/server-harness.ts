/**
 * Test-only harness: the real fleet server (`buildApp` over in-memory SQLite) listening on a free
 * HTTP port with its embedded MQTT broker on a free TCP port, plus admin helpers. Terminal
 * runtime code never imports the server; only tests do.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { buildApp, bootstrapAdminToken } from '@onecard/server/src/app.ts';
import { openSqliteStore } from '@onecard/server/src/store/sqlite.ts';
import type { FastifyInstance } from 'fastify';

export interface Harness {
  readonly app: FastifyInstance;
  readonly httpUrl: string;
  readonly mqttUrl: string;
  readonly adminToken: string;
  readonly serverPrivateKeyPkcs8: Uint8Array;
  /** Creates a group (if needed) and a fresh enrolment token for it. */
  enrolmentToken(groupId?: string): Promise<string>;
  admin(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown): Promise<{ status: number; body: unknown }>;
  /** Drops every MQTT client connection (the broker keeps running). */
  dropClients(): void;
  close(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const keys = { publicKeySpki: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'), privateKeyPkcs8: new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' })) };
  const store = openSqliteStore(':memory:');
  const mqttServer: Server = createServer();
  await new Promise<void>((r) => mqttServer.listen(0, '127.0.0.1', () => r()));
  const maddr = mqttServer.address();
  const mqttUrl = `mqtt://127.0.0.1:${typeof maddr === 'object' && maddr !== null ? maddr.port : 0}`;
  const app = await buildApp({ store, keys, settings: { mqttUrl, authRateLimitPerMinute: 1000 } });
  mqttServer.on('connection', (socket) => app.broker.handle(socket));
  const adminToken = (await bootstrapAdminToken(store, { now: () => Date.now() }))!;
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const httpUrl = `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`;
  const admin = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) => {
    const r = await app.inject({ method, url, headers: { authorization: `Bearer ${adminToken}` }, ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}) });
    return { status: r.statusCode, body: r.body.length > 0 ? (r.json() as unknown) : undefined };
  };
  const groups = new Set<string>();
  const clients = () => Object.values((app.broker as unknown as { clients: Record<string, { close(): void }> }).clients ?? {});
  return {
    app, httpUrl, mqttUrl, adminToken, serverPrivateKeyPkcs8: keys.privateKeyPkcs8, admin,
    async enrolmentToken(groupId = 'pharmacies') {
      if (!groups.has(groupId)) {
        const g = await admin('POST', '/api/v1/groups', { id: groupId, name: groupId });
        if (g.status !== 201 && g.status !== 409) throw new Error(`group: ${g.status}`);
        groups.add(groupId);
      }
      const r = await admin('POST', '/api/v1/enrolment-tokens', { groupId });
      if (r.status !== 201) throw new Error(`token: ${r.status} ${JSON.stringify(r.body)}`);
      return (r.body as { token: string }).token;
    },
    dropClients() { for (const c of clients()) c.close(); },
    async close() {
      for (const c of clients()) c.close();
      await new Promise<void>((r) => mqttServer.close(() => r()));
      await app.close();
      await store.close();
    },
  };
}
