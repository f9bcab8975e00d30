/** The OpenAPI document at /docs/json describes the whole departments' interface, its admin and terminal endpoints, with purposes and security. */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { makeTestApp } from '../helpers.ts';

t.test('OpenAPI covers every data-sharing route', async (t) => {
  const { app } = await makeTestApp({ masterKey: new Uint8Array(randomBytes(32)) });
  t.teardown(() => app.close());
  const doc = (await app.inject({ url: '/docs/json', remoteAddress: '127.0.0.1' })).json() as { paths: Record<string, Record<string, { tags?: string[]; security?: unknown[]; parameters?: { name: string }[]; requestBody?: unknown }>> };
  const want: [string, string][] = [
    ['/sharing/v1/token', 'post'], ['/sharing/v1/cards/{card}/status', 'get'], ['/sharing/v1/holders/verify', 'post'], ['/sharing/v1/holders/basic-info', 'post'],
    ['/sharing/v1/batch-verifications', 'post'], ['/sharing/v1/batch-verifications/{id}', 'get'], ['/sharing/v1/batch-verifications/{id}/result', 'get'], ['/sharing/v1/changes', 'get'],
    ['/api/v1/sharing/departments', 'post'], ['/api/v1/sharing/departments', 'get'], ['/api/v1/sharing/departments/{id}', 'patch'], ['/api/v1/sharing/departments/{id}/secret', 'post'],
    ['/api/v1/terminal/sharing/consents', 'post'], ['/api/v1/terminal/sharing/consents/{id}/revoke', 'post'], ['/api/v1/terminal/sharing/tracker', 'post'],
    ['/api/v1/registry/import', 'post'], ['/api/v1/registry/cards/{card}', 'put'], ['/api/v1/registry/cards/{card}', 'get'], ['/api/v1/registry/cards/{card}/events', 'post'],
    ['/api/v1/registry/cards/{card}/history', 'get'], ['/api/v1/registry/cards/{card}/accesses', 'get'], ['/api/v1/registry/accesses', 'get'],
  ];
  for (const [path, method] of want) t.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path}`);
  for (const [path, ops] of Object.entries(doc.paths).filter(([p]) => p.startsWith('/sharing/v1/') && p !== '/sharing/v1/token')) {
    for (const [m, op] of Object.entries(ops)) t.same(op.security, [{ bearer: [] }], `${m} ${path} takes a bearer token`);
  }
  t.ok(doc.paths['/sharing/v1/changes']!.get!.parameters!.some((p) => p.name === 'purpose'), 'the purpose is a named parameter');
});
