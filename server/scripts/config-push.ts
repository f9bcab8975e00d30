/**
 * Quick measurement (not a test): time for one configuration edit to publish the retained
 * pointer of every terminal of a large group through the embedded broker, counted by an internal
 * subscriber. Usage: node --import tsx scripts/config-push.ts [terminals=10000]
 */
import { EXAMPLE_TERMINAL_CONFIG } from '@onecard/protocol/fleet';
import { buildApp, bootstrapAdminToken } from '../src/app.ts';
import { openSqliteStore } from '../src/store/sqlite.ts';
import { systemClock } from '../src/context.ts';

const n = Number(process.argv[2] ?? 10_000);
const store = openSqliteStore(':memory:');
const app = await buildApp({ store });
const token = (await bootstrapAdminToken(store, systemClock))!;
const h = { authorization: `Bearer ${token}` };
await app.ready();
await app.inject({ method: 'POST', url: '/api/v1/groups', headers: h, payload: { id: 'big', name: 'big' } });
store.db.transaction(() => {
  const ins = store.db.prepare("INSERT INTO terminals (id, group_id, tags, kind, public_key, credential_hash, status, created_at) VALUES (?, 'big', '[]', 'k', 'p', ?, 'active', 1)");
  for (let i = 0; i < n; i++) ins.run(`T${String(i).padStart(6, '0')}`, `h${i}`);
})();
const c = (await app.inject({ method: 'POST', url: '/api/v1/configs', headers: h, payload: { id: 'big', name: 'big', document: EXAMPLE_TERMINAL_CONFIG } })).json() as { version: number };
await app.inject({ method: 'PUT', url: '/api/v1/groups/big/config', headers: h, payload: { configId: 'big' } });
let seen = 0;
app.broker.subscribe('t/+/down/config', (_p, cb) => { seen++; cb(); }, () => {});
const t0 = performance.now();
const r = (await app.inject({ method: 'PUT', url: '/api/v1/configs/big', headers: h, payload: { document: { ...EXAMPLE_TERMINAL_CONFIG, logLevel: 'warn' }, expectedVersion: c.version } })).json() as { pushed: number };
const ms = performance.now() - t0;
console.log(`config edit → ${r.pushed} retained pointers published (${seen} delivered to a subscriber) in ${ms.toFixed(0)} ms; heap ${Math.round(process.memoryUsage().heapUsed / 1e6)} MB`);
await app.close();
