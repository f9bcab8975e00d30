/**
 * Update packages: build/sign/verify round trips (Ed25519 and SM2), manifest and path rules,
 * the ustar reader's refusals (links, checksums, truncation, trailing bytes), tampering, random
 * bytes, semver ordering, and the `onecard-server package` CLI.
 */
import t from 'tap';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildPackage, generateSigningKey, inspectPackage, loadSigningKey, signPackage, verifyPackage } from '../../src/updates/package-io.ts';
import { PACKAGE_FORMAT, TAR_END, canonicalJson, encodeManifest, tarPadding, unsafePathReason, sha256Hex, type PackageManifest } from '@onecard/protocol/update';
import { TarReader, parseSignature, tarHeader, validateManifest } from '../../src/updates/package-format.ts';
import { compareSemver, isSemver } from '../../src/updates/semver.ts';
import { runPackageCli } from '../../src/updates/package-cli.ts';
import { verifyPackageFile } from '@onecard/terminal/src/updater/verify.ts';

const dir = mkdtempSync(join(tmpdir(), 'onecard-pkg-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function tree(name: string): string {
  const d = join(dir, name);
  mkdirSync(join(d, 'lib', 'deep'), { recursive: true });
  writeFileSync(join(d, 'main.js'), 'console.log(1)\n');
  writeFileSync(join(d, 'lib', 'deep', `${'n'.repeat(90)}.js`), 'x'.repeat(1500)); // > 100 bytes path: ustar prefix
  writeFileSync(join(d, 'empty.txt'), '');
  writeFileSync(join(d, 'run.sh'), '#!/bin/sh\n');
  chmodSync(join(d, 'run.sh'), 0o755);
  return d;
}

const concat = (parts: Uint8Array[]) => Buffer.concat(parts.map((p) => Buffer.from(p)));

t.test('build, sign, verify round trip with Ed25519 and SM2; the terminal reads it too', async (t) => {
  for (const alg of ['ed25519', 'sm2'] as const) {
    const kp = generateSigningKey(alg);
    const key = loadSigningKey(kp.privateKey);
    t.equal(key.publicKey, kp.publicKey);
    const out = join(dir, `rt-${alg}.ocpkg`);
    const built = await buildPackage({ from: tree(`rt-${alg}`), out, version: '2.0.0', minPreviousVersion: '1.5.0', created: new Date('2025-01-01T00:00:00Z') });
    t.same(built.manifest.files.map((f) => f.path), ['empty.txt', `lib/deep/${'n'.repeat(90)}.js`, 'main.js', 'run.sh'], 'sorted, recursive');
    t.equal(built.manifest.files.find((f) => f.path === 'run.sh')!.mode, 0o755);
    const sigText = await signPackage(out, key);
    const sig = parseSignature(sigText);
    t.equal(sig.alg, alg);
    const m = await verifyPackage(out, sig, [kp.publicKey]);
    t.equal(m.version, '2.0.0');
    const dest = join(dir, `x-${alg}`);
    const tm = await verifyPackageFile(out, sigText, [kp.publicKey], dest);
    t.equal(readFileSync(join(dest, 'lib', 'deep', `${'n'.repeat(90)}.js`), 'utf8'), 'x'.repeat(1500), 'terminal extracts the long path');
    t.equal(tm.files.length, 4);
    await t.rejects(verifyPackage(out, sig, [generateSigningKey(alg).publicKey]), { code: 'SRV_ERR_UPDATE_SIGNATURE' }, `${alg}: other key refused`);
    const forged = { ...sig, version: '9.0.0' };
    await t.rejects(verifyPackage(out, forged, [kp.publicKey]), { code: 'SRV_ERR_UPDATE_SIGNATURE' }, `${alg}: statement bound to the version`);
  }
});

t.test('builds are reproducible', async (t) => {
  const src = tree('repro');
  const a = await buildPackage({ from: src, out: join(dir, 'a.ocpkg'), version: '1.0.0', minPreviousVersion: '1.0.0', created: new Date(0) });
  const b = await buildPackage({ from: src, out: join(dir, 'b.ocpkg'), version: '1.0.0', minPreviousVersion: '1.0.0', created: new Date(0) });
  t.equal(a.sha256, b.sha256);
});

t.test('build refuses symbolic links', async (t) => {
  const src = tree('links');
  symlinkSync('/etc/passwd', join(src, 'evil'));
  await t.rejects(buildPackage({ from: src, out: join(dir, 'l.ocpkg'), version: '1.0.0', minPreviousVersion: '1.0.0' }), { code: 'SRV_ERR_UPDATE_PACKAGE' });
});

t.test('path rules', async (t) => {
  for (const p of ['a', 'a/b.js', 'node_modules/@x/y/z.js', 'v1.2+3~x']) t.equal(unsafePathReason(p), undefined, p);
  for (const p of ['', '/etc/passwd', '../x', 'a/../b', 'a//b', './a', 'a/.', 'a\\b', 'a b', 'x'.repeat(201), 'é']) t.not(unsafePathReason(p), undefined, JSON.stringify(p));
});

const goodManifest = (): PackageManifest => ({ format: PACKAGE_FORMAT, name: 'onecard-terminal', version: '1.1.0', minPreviousVersion: '1.0.0', created: '2025-01-01T00:00:00.000Z', files: [{ path: 'a.js', size: 1, sha256: sha256Hex(new Uint8Array([0x61])), mode: 0o644 }] });

t.test('manifest validation', async (t) => {
  t.same(validateManifest(goodManifest()), goodManifest());
  const bad: [string, unknown][] = [
    ['extra field', { ...goodManifest(), extra: 1 }],
    ['format', { ...goodManifest(), format: 'x' }],
    ['version', { ...goodManifest(), version: '1.1' }],
    ['min above version', { ...goodManifest(), minPreviousVersion: '2.0.0' }],
    ['no files', { ...goodManifest(), files: [] }],
    ['dup path', { ...goodManifest(), files: [goodManifest().files[0], goodManifest().files[0]] }],
    ['file and dir', { ...goodManifest(), files: [goodManifest().files[0], { ...goodManifest().files[0]!, path: 'a.js/b' }] }],
    ['mode', { ...goodManifest(), files: [{ ...goodManifest().files[0]!, mode: 0o4755 }] }],
    ['size', { ...goodManifest(), files: [{ ...goodManifest().files[0]!, size: -1 }] }],
    ['unsafe', { ...goodManifest(), files: [{ ...goodManifest().files[0]!, path: '../x' }] }],
  ];
  for (const [what, m] of bad) t.throws(() => validateManifest(m), { code: 'SRV_ERR_UPDATE_PACKAGE' }, what);
  t.throws(() => validateManifest(goodManifest(), { maxFiles: 1, maxFileBytes: 0, maxTotalBytes: 10, maxManifestBytes: 100 }), { code: 'SRV_ERR_UPDATE_PACKAGE' }, 'file size limit');
  t.equal(canonicalJson({ b: 1, a: [2, { d: 1, c: 2 }] }), '{"a":[2,{"c":2,"d":1}],"b":1}');
});

function archive(entries: { name: string; data: Uint8Array; mode?: number; type?: number }[], tail: Uint8Array = TAR_END): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const h = tarHeader(e.name, e.data.length, e.mode ?? 0o644, 0);
    if (e.type !== undefined) {
      h[156] = e.type;
      h.fill(0x20, 148, 156);
      let sum = 0;
      for (const b of h) sum += b;
      const c = sum.toString(8).padStart(6, '0');
      for (let i = 0; i < 6; i++) h[148 + i] = c.charCodeAt(i);
      h[154] = 0;
    }
    parts.push(h, e.data, tarPadding(e.data.length));
  }
  parts.push(tail);
  return concat(parts);
}

async function checkRaw(name: string, tar: Uint8Array): Promise<unknown> {
  const p = join(dir, name);
  writeFileSync(p, gzipSync(tar));
  return inspectPackage(p);
}

t.test('ustar reader refusals', async (t) => {
  const m = goodManifest();
  const mb = encodeManifest(m);
  const a = new Uint8Array([0x61]);
  t.ok(await checkRaw('ok.ocpkg', archive([{ name: 'manifest.json', data: mb }, { name: 'files/a.js', data: a }])), 'well formed');
  await t.rejects(checkRaw('sym.ocpkg', archive([{ name: 'manifest.json', data: mb }, { name: 'files/a.js', data: a, type: 0x32 }])), { code: 'SRV_ERR_UPDATE_PACKAGE' }, 'symlink entry');
  await t.rejects(checkRaw('dir.ocpkg', archive([{ name: 'manifest.json', data: mb }, { name: 'files/a.js', data: new Uint8Array(0), type: 0x35 }])), { code: 'SRV_ERR_UPDATE_PACKAGE' }, 'directory entry');
  await t.rejects(checkRaw('order.ocpkg', archive([{ name: 'files/a.js', data: a }, { name: 'manifest.json', data: mb }])), { code: 'SRV_ERR_UPDATE_PACKAGE' }, 'manifest not first');
  await t.rejects(checkRaw('extra.ocpkg', archive([{ name: 'manifest.json', data: mb }, { name: 'files/a.js', data: a }, { name: 'files/b.js', data: a }])), { code: 'SRV_ERR_UPDATE_PACKAGE' }, 'entry not in manifest');
  await t.rejects(checkRaw('missing.ocpkg', archive([{ name: 'manifest.json', data: mb }])), { code: 'SRV_ERR_UPDATE_PACKAGE' }, 'file missing');
  await t.rejects(checkRaw('hash.ocpkg', archive([{ name: 'manifest.json', data: mb }, { name: 'files/a.js', data: new Uint8Array([0x62]) }])), { code: 'SRV_ERR_UPDATE_HASH' }, 'content differs from the manifest');
  await t.rejects(checkRaw('mode.ocpkg', archive([{ name: 'manifest.json', data: mb }, { name: 'files/a.js', data: a, mode: 0o755 }])), { code: 'SRV_ERR_UPDATE_PACKAGE' }, 'mode differs');
  await t.rejects(checkRaw('trunc.ocpkg', archive([{ name: 'manifest.json', data: mb }, { name: 'files/a.js', data: a }], new Uint8Array(512))), { code: 'SRV_ERR_UPDATE_PACKAGE' }, 'one end block only');
  await t.rejects(checkRaw('trail.ocpkg', archive([{ name: 'manifest.json', data: mb }, { name: 'files/a.js', data: a }], concat([TAR_END, new Uint8Array([1])]))), { code: 'SRV_ERR_UPDATE_PACKAGE' }, 'bytes after the end');
  const cs = archive([{ name: 'manifest.json', data: mb }, { name: 'files/a.js', data: a }]);
  cs[0] = cs[0]! ^ 1;
  await t.rejects(checkRaw('cs.ocpkg', cs), { code: 'SRV_ERR_UPDATE_PACKAGE' }, 'header checksum');
  writeFileSync(join(dir, 'notgz.ocpkg'), 'hello');
  await t.rejects(inspectPackage(join(dir, 'notgz.ocpkg')), { code: 'SRV_ERR_UPDATE_PACKAGE' }, 'not gzip');
});

t.test('tampering with any byte of a signed package is refused (server and terminal)', async (t) => {
  const kp = generateSigningKey();
  const out = join(dir, 'tamper.ocpkg');
  await buildPackage({ from: tree('tamper'), out, version: '1.0.1', minPreviousVersion: '1.0.0' });
  const sigText = await signPackage(out, loadSigningKey(kp.privateKey));
  const bytes = readFileSync(out);
  for (const i of [0, 10, Math.floor(bytes.length / 2), bytes.length - 1]) {
    const copy = Buffer.from(bytes);
    copy.writeUInt8(copy.readUInt8(i) ^ 0x80, i);
    const p = join(dir, `tamper-${i}.ocpkg`);
    writeFileSync(p, copy);
    await t.rejects(verifyPackage(p, parseSignature(sigText), [kp.publicKey]), { code: 'SRV_ERR_UPDATE_HASH' }, `server, byte ${i}`);
    await t.rejects(verifyPackageFile(p, sigText, [kp.publicKey], join(dir, `tx-${i}`)), { code: 'TERM_ERR_UPDATE_HASH' }, `terminal, byte ${i}`);
  }
  const sig = JSON.parse(sigText) as Record<string, string>;
  const flipped = { ...sig, signature: Buffer.from(Buffer.from(sig.signature!, 'base64').map((b, i) => (i === 0 ? b ^ 1 : b))).toString('base64') };
  await t.rejects(verifyPackage(out, parseSignature(JSON.stringify(flipped)), [kp.publicKey]), { code: 'SRV_ERR_UPDATE_SIGNATURE' });
  t.throws(() => parseSignature('{'), { code: 'SRV_ERR_UPDATE_SIGNATURE' });
  t.throws(() => parseSignature(JSON.stringify({ ...sig, alg: 'rsa' })), { code: 'SRV_ERR_UPDATE_SIGNATURE' });
});

t.test('random bytes into the ustar reader: only coded errors, no hang', async (t) => {
  let x = 12345;
  const rnd = () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
  let coded = 0;
  for (let i = 0; i < 5000; i++) {
    const n = rnd() % 2048;
    const buf = new Uint8Array(n);
    for (let k = 0; k < n; k++) buf[k] = rnd() & 0xff;
    if (i % 3 === 0 && n >= 512) { const h = tarHeader('manifest.json', 10, 0o644, 0); buf.set(h.subarray(0, Math.min(512, n))); }
    const r = new TarReader(1 << 20);
    try {
      r.push(buf.subarray(0, n >> 1));
      r.push(buf.subarray(n >> 1));
      r.finish();
    } catch (err) {
      if ((err as { code?: string }).code !== 'SRV_ERR_UPDATE_PACKAGE') throw err;
      coded++;
    }
  }
  t.ok(coded > 4000, `${coded} coded refusals`);
});

t.test('semver ordering [semver §11]', async (t) => {
  const order = ['0.9.0', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.10.0', '2.0.0'];
  for (let i = 0; i + 1 < order.length; i++) t.ok(compareSemver(order[i]!, order[i + 1]!) < 0, `${order[i]} < ${order[i + 1]}`);
  t.equal(compareSemver('1.0.0+build.1', '1.0.0'), 0);
  for (const bad of ['1.0', '01.0.0', '1.0.0-01', 'v1.0.0', '']) t.notOk(isSemver(bad), bad);
});

t.test('onecard-server package CLI', async (t) => {
  const out: string[] = [];
  const err: string[] = [];
  const io = { stdout: (s: string) => { out.push(s); }, stderr: (s: string) => { err.push(s); } };
  t.equal(await runPackageCli(['--help'], io), 0);
  t.match(out.join(''), /keygen/);
  t.equal(await runPackageCli([], io), 2);
  t.equal(await runPackageCli(['build', '--from', dir], io), 2, 'missing options');
  const prefix = join(dir, 'cli-key');
  t.equal(await runPackageCli(['keygen', '--out', prefix], io), 0);
  const pkgFile = join(dir, 'cli.ocpkg');
  t.equal(await runPackageCli(['build', '--from', tree('cli'), '--version', '3.0.0', '--min-previous', '2.0.0', '--out', pkgFile], io), 0);
  t.equal(await runPackageCli(['sign', '--key', `${prefix}.key`, pkgFile], io), 0);
  out.length = 0;
  t.equal(await runPackageCli(['verify', '--pub', `${prefix}.pub`, pkgFile], io), 0);
  t.match(JSON.parse(out.join('')), { ok: true, version: '3.0.0' });
  t.notMatch(out.join('') + err.join(''), /PRIVATE KEY/, 'private key never printed');
  t.equal(await runPackageCli(['verify', '--pub', generateSigningKey().publicKey, pkgFile], io), 1, 'untrusted key');
  t.match(err.join(''), /SRV_ERR_UPDATE_SIGNATURE/);
});
