/**
 * The edge that the server and the terminal use to take the package format under their own
 * codes: every throwing part maps `PROTO_ERR_UPDATE_*` through the caller's code table with the
 * same detail and details and the original as cause; other errors pass through unchanged.
 */
import t from 'tap';
import { DEFAULT_PACKAGE_LIMITS, updatePackageEdge } from '@onecard/protocol/update';
import { ProtocolError } from '@onecard/protocol/errors';
import { archive, chunks, data, manifest } from './fixture.ts';

class EdgeError extends Error {
  readonly code: string;
  readonly detail: string | undefined;
  readonly details: Record<string, unknown>;
  constructor(code: string, detail: string | undefined, details: Record<string, unknown>, cause: unknown) {
    super(`${code}: ${detail ?? ''}`, { cause });
    this.code = code;
    this.detail = detail;
    this.details = details;
  }
}

const edge = updatePackageEdge({
  PROTO_ERR_UPDATE_PACKAGE: 'EDGE_PACKAGE',
  PROTO_ERR_UPDATE_HASH: 'EDGE_HASH',
  PROTO_ERR_UPDATE_SIGNATURE: 'EDGE_SIGNATURE',
}, (code, detail, details, cause) => new EdgeError(code, detail, details, cause));

t.test('each throwing part rethrows under the caller code with the same detail, details and cause', async (t) => {
  let err: unknown;
  try { edge.validateManifest({ ...manifest, name: 'Bad Name' }); } catch (e) { err = e; }
  t.ok(err instanceof EdgeError);
  t.match(err, { code: 'EDGE_PACKAGE', detail: 'manifest name', details: { field: 'name' } });
  t.ok((err as Error).cause instanceof ProtocolError, 'the protocol error is kept as cause');
  t.match((err as Error).cause, { code: 'PROTO_ERR_UPDATE_PACKAGE' });

  t.throws(() => edge.parseSignature('{'), { code: 'EDGE_SIGNATURE' });
  t.throws(() => edge.tarHeader('x'.repeat(120), 1, 0o644, 0), { code: 'EDGE_PACKAGE' }, 'a path that does not fit a ustar header');
  t.equal(edge.tarHeader('a', 1, 0o644, 0).length, 512, 'a result passes through');

  const r = new edge.TarReader(1024);
  r.push(archive(data).subarray(0, 1000));
  t.throws(() => r.finish(), { code: 'EDGE_PACKAGE', details: { field: 'trailer' } }, 'TarReader.finish');
  const r2 = new edge.TarReader(1024);
  t.throws(() => r2.push(new Uint8Array(512).fill(0x41)), { code: 'EDGE_PACKAGE' }, 'TarReader.push');

  const bad = new edge.PackageChecker();
  await t.rejects(edge.feedInflated(chunks(archive(new TextEncoder().encode('console.log(2)\n')), 64), bad, DEFAULT_PACKAGE_LIMITS), { code: 'EDGE_HASH', details: { path: 'a.js' } }, 'feedInflated');
  const direct = new edge.PackageChecker();
  await t.rejects(direct.push(archive(new TextEncoder().encode('console.log(2)\n'))), { code: 'EDGE_HASH' }, 'PackageChecker.push');
  const early = new edge.PackageChecker();
  t.throws(() => early.finish(), { code: 'EDGE_PACKAGE' }, 'PackageChecker.finish before the end');

  const ok = new edge.PackageChecker();
  await edge.feedInflated(chunks(archive(data), 7), ok, DEFAULT_PACKAGE_LIMITS);
  t.same(ok.finish(), manifest, 'a well-formed archive passes');
});

t.test('other errors pass through unchanged', async (t) => {
  const plain = new Error('x');
  t.equal(edge.mapError(plain), plain);
  const other = new ProtocolError('PROTO_ERR_FLEET_TOPIC');
  t.equal(edge.mapError(other), other, 'other protocol codes are not mapped');
  const hookErr = new Error('disk full');
  const checker = new edge.PackageChecker({ hooks: { onFileStart: () => { throw hookErr; } } });
  await t.rejects(edge.feedInflated(chunks(archive(data), 512), checker, DEFAULT_PACKAGE_LIMITS), hookErr, 'a hook error is not rewrapped');
});
