/**
 * The registry store conformance suite on SQLite (in memory) and, when `ONECARD_TEST_PG_URL` names a
 * scratch database, on PostgreSQL (each run in a fresh schema).
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { openPostgresStore } from '../../src/store/postgres.ts';
import { registryConformance } from './registry-conformance.ts';

t.test('SQLite', async (t) => {
  registryConformance(t, async () => openSqliteStore(':memory:'));
});

const URL = process.env.ONECARD_TEST_PG_URL;
if (URL === undefined || URL === '') {
  t.test('PostgreSQL', { skip: 'ONECARD_TEST_PG_URL is not set (run .ci/suites/postgres.sh, or point it at a scratch database)' }, () => {});
} else {
  const admin = new pg.Pool({ connectionString: URL, max: 2 });
  const schemas: string[] = [];
  t.teardown(async () => {
    for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
    await admin.end();
  });
  t.test('PostgreSQL', async (t) => {
    registryConformance(t, async () => {
      const schema = `onecard_r_${randomBytes(6).toString('hex')}`;
      schemas.push(schema);
      return openPostgresStore(URL, { schema, max: 4 });
    });
  });
}
