/**
 * The one definition of the update package format: manifest and signature checks, the ustar
 * reader and the streaming checker throw `PROTO_ERR_UPDATE_*` codes that the server and the
 * terminal rethrow under their own codes (their tests in server/test/updates check those edges).
 */
import t from 'tap';
import { gzipSync, gunzipSync } from 'node:zlib';
import { generateKeyPairSync, sign } from 'node:crypto';
import {
  PackageChecker, SIGNATURE_FORMAT, TarReader, encodeManifest, feedInflated, maxInflatedBytes,
  checkArchiveSignature, keyIdOf, parseSignature, sha256Hex, sha256OfChunks, signedStatement, updateErrorDetail, validateManifest, verifyWithPublicKey,
  DEFAULT_PACKAGE_LIMITS, type PackageSignature,
} from '@onecard/protocol/update';
import { ProtocolError } from '@onecard/protocol/errors';
import { archive, chunks, data, manifest } from './fixture.ts';

t.test('a well-formed archive streams through the checker in any chunking', async (t) => {
  for (const size of [1, 7, 512, 100_000]) {
    const checker = new PackageChecker();
    const seen: string[] = [];
    const c2 = new PackageChecker({ manifestSha256: sha256Hex(encodeManifest(manifest)), hooks: { onFileEnd: (f) => { seen.push(f.path); } } });
    await feedInflated(chunks(archive(data), size), checker, DEFAULT_PACKAGE_LIMITS);
    await feedInflated(chunks(archive(data), size), c2, DEFAULT_PACKAGE_LIMITS);
    t.same(checker.finish(), manifest, `chunks of ${size}`);
    t.same(c2.finish().files.map((f) => f.path), seen);
  }
});

t.test('refusals carry PROTO_ERR_UPDATE_* codes and the detail the edges rethrow', async (t) => {
  t.throws(() => validateManifest({ ...manifest, version: 'v1' }), { code: 'PROTO_ERR_UPDATE_PACKAGE', details: { field: 'version' } });
  t.throws(() => parseSignature('{'), { code: 'PROTO_ERR_UPDATE_SIGNATURE' });
  const bad = new PackageChecker();
  await t.rejects(feedInflated(chunks(archive(new TextEncoder().encode('console.log(2)\n')), 64), bad, DEFAULT_PACKAGE_LIMITS), { code: 'PROTO_ERR_UPDATE_HASH', details: { path: 'a.js' } }, 'file content differs from the manifest');
  const other = new PackageChecker({ manifestSha256: '0'.repeat(64) });
  await t.rejects(feedInflated(chunks(archive(data), 512), other, DEFAULT_PACKAGE_LIMITS), { code: 'PROTO_ERR_UPDATE_HASH', details: { field: 'manifest' } }, 'manifest differs from the signed one');
  const r = new TarReader(1024);
  r.push(archive(data).subarray(0, 1000));
  t.throws(() => r.finish(), { code: 'PROTO_ERR_UPDATE_PACKAGE', details: { field: 'trailer' } }, 'truncated archive');

  let err: unknown;
  try { validateManifest({ ...manifest, name: 'Bad Name' }); } catch (e) { err = e; }
  t.ok(err instanceof ProtocolError);
  t.same(updateErrorDetail(err), { code: 'PROTO_ERR_UPDATE_PACKAGE', detail: 'manifest name', details: { field: 'name' } });
  t.equal(updateErrorDetail(new Error('x')), undefined, 'other errors are not mapped');
  t.equal(updateErrorDetail(new ProtocolError('PROTO_ERR_FLEET_TOPIC')), undefined, 'other protocol codes are not mapped');
});

t.test('a compression bomb is refused once it inflates beyond the limits', async (t) => {
  const limits = { maxFiles: 1, maxFileBytes: 1024, maxTotalBytes: 1024, maxManifestBytes: 1024 };
  const max = maxInflatedBytes(limits);
  t.equal(max, 1024 + 1024 + 2 * 1024 + 4096);
  const bomb = gunzipSync(gzipSync(new Uint8Array(max + 1)));
  await t.rejects(feedInflated(chunks(bomb, 4096), new PackageChecker({ limits }), limits), { code: 'PROTO_ERR_UPDATE_PACKAGE', details: { field: 'gzip' } });
});

t.test('signatures verify with ed25519 public key strings only for the signed statement', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const pub = `ed25519:${der.subarray(der.length - 32).toString('base64')}`;
  const statement = signedStatement({ name: 'onecard-terminal', version: '1.2.0', manifestSha256: 'a'.repeat(64), archiveSha256: 'b'.repeat(64) });
  const sig = new Uint8Array(sign(null, statement, privateKey));
  t.ok(verifyWithPublicKey(pub, 'ed25519', statement, sig));
  t.notOk(verifyWithPublicKey(pub, 'ed25519', statement.subarray(1), sig), 'other message');
  t.notOk(verifyWithPublicKey(pub, 'sm2', statement, sig), 'alg does not match the key');
  t.notOk(verifyWithPublicKey('ed25519:AAAA', 'ed25519', statement, sig), 'malformed key');
});

t.test('sha256OfChunks hashes and counts a stream in any chunking', async (t) => {
  const bytes = archive(data);
  for (const size of [1, 100, bytes.length]) t.same(await sha256OfChunks(chunks(bytes, size)), { sha256: sha256Hex(bytes), size: bytes.length }, `chunks of ${size}`);
  t.same(await sha256OfChunks(chunks(new Uint8Array(0), 1)), { sha256: sha256Hex(new Uint8Array(0)), size: 0 }, 'empty stream');
  await t.rejects(sha256OfChunks((async function* () { yield data; throw new Error('read failed'); })()), { message: 'read failed' }, 'a stream error rejects');
});

t.test('checkArchiveSignature: archive hash and size, then the signature by the named key of the list', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const pub = `ed25519:${der.subarray(der.length - 32).toString('base64')}`;
  const bytes = archive(data);
  const base = { name: manifest.name, version: manifest.version, manifestSha256: sha256Hex(encodeManifest(manifest)), archiveSha256: sha256Hex(bytes) };
  const sig: PackageSignature = {
    format: SIGNATURE_FORMAT, alg: 'ed25519', keyId: keyIdOf(pub), ...base, archiveSize: bytes.length,
    signature: sign(null, signedStatement(base), privateKey).toString('base64'),
  };
  const measured = { sha256: sha256Hex(bytes), size: bytes.length };
  t.equal(checkArchiveSignature(sig, measured, ['ed25519:AAAA', pub], 'trusted'), pub, 'the key with the named id');
  t.throws(() => checkArchiveSignature(sig, { ...measured, size: measured.size + 1 }, [pub], 'trusted'), { code: 'PROTO_ERR_UPDATE_HASH', details: { field: 'archive' } }, 'size differs');
  t.throws(() => checkArchiveSignature(sig, { ...measured, sha256: '0'.repeat(64) }, [pub], 'trusted'), { code: 'PROTO_ERR_UPDATE_HASH', details: { field: 'archive' } }, 'hash differs');
  t.throws(() => checkArchiveSignature(sig, measured, [], 'pinned'), { code: 'PROTO_ERR_UPDATE_SIGNATURE', message: /is not pinned/, details: { keyId: sig.keyId } }, 'no key with the id');
  t.throws(() => checkArchiveSignature(sig, measured, [], 'trusted'), { message: /is not trusted/ }, 'the list named as the caller names it');
  t.throws(() => checkArchiveSignature({ ...sig, version: '9.9.9' }, measured, [pub], 'trusted'), { code: 'PROTO_ERR_UPDATE_SIGNATURE', details: { keyId: sig.keyId } }, 'the statement binds the version');
});
