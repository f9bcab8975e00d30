/**
 * Building, signing and verifying update packages on disk. Keys: Ed25519 (node:crypto; the
 * private key is a PKCS#8 PEM file) or SM2 (`@onecard/protocol/crypto`; the private key file is
 * `sm2-private:<64 hex>`). Public keys are one-line strings, `ed25519:<base64 of the 32-byte key>`
 * or `sm2:<130 hex of 04‖x‖y>`, the form the server's trusted-key list and the terminal's pinned
 * keys use. Everything streams: archives are never held in memory whole.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign as edSign, type KeyObject } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { sm2GenerateKeyPair, sm2PublicKey, sm2Sign } from '@onecard/protocol/crypto';
import { fromHex, toHex } from '@onecard/protocol/bytes';
import { ServerError } from '../errors.ts';
import {
  DEFAULT_PACKAGE_LIMITS, FILES_PREFIX, MANIFEST_ENTRY, PACKAGE_FORMAT, SIGNATURE_FORMAT, TAR_END,
  encodeManifest, keyIdOf, sha256OfChunks, signedStatement, tarPadding, unsafePathReason, verifyWithPublicKey,
  type ManifestFile, type PackageLimits, type PackageManifest, type PackageSignature, type SignatureAlg,
} from '@onecard/protocol/update';
import { PackageChecker, checkArchiveSignature, feedInflated, tarHeader, validateManifest } from './package-format.ts';

export { verifyWithPublicKey };

/** A signing key loaded from its file. */
export interface SigningKey {
  readonly alg: SignatureAlg;
  /** The matching public key string. */
  readonly publicKey: string;
  readonly keyId: string;
  sign(message: Uint8Array): Uint8Array;
}

/** A key pair as file contents: `privateKey` (PEM or `sm2-private:`) and `publicKey` (one line). */
export function generateSigningKey(alg: SignatureAlg = 'ed25519'): { privateKey: string; publicKey: string } {
  if (alg === 'sm2') {
    const kp = sm2GenerateKeyPair();
    return { privateKey: `sm2-private:${toHex(kp.privateKey).toLowerCase()}\n`, publicKey: `sm2:${toHex(kp.publicKey).toLowerCase()}` };
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey: ed25519PublicString(publicKey) };
}

function ed25519PublicString(k: KeyObject): string {
  const der = k.export({ type: 'spki', format: 'der' });
  return `ed25519:${der.subarray(der.length - 32).toString('base64')}`;
}

/**
 * Loads a private key file's text.
 * @throws ServerError `SRV_ERR_INVALID_ARGUMENT`
 */
export function loadSigningKey(text: string): SigningKey {
  const t = text.trim();
  if (t.startsWith('sm2-private:')) {
    const hex = t.slice('sm2-private:'.length);
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new ServerError('SRV_ERR_INVALID_ARGUMENT', 'SM2 private key must be 64 hex digits');
    const priv = fromHex(hex);
    const publicKey = `sm2:${toHex(sm2PublicKey(priv)).toLowerCase()}`;
    return { alg: 'sm2', publicKey, keyId: keyIdOf(publicKey), sign: (m) => sm2Sign(priv, m) };
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(t);
  } catch (cause) {
    throw new ServerError('SRV_ERR_INVALID_ARGUMENT', 'not a PEM private key', {}, { cause });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new ServerError('SRV_ERR_INVALID_ARGUMENT', `key type ${String(key.asymmetricKeyType)} (ed25519 or sm2 only)`);
  const publicKey = ed25519PublicString(createPublicKey(key));
  return { alg: 'ed25519', publicKey, keyId: keyIdOf(publicKey), sign: (m) => new Uint8Array(edSign(null, m, key)) };
}

/** True when `s` is a well-formed public key string. */
export function isPublicKeyString(s: string): boolean {
  if (/^ed25519:[A-Za-z0-9+/]{43}=$/.test(s)) return Buffer.from(s.slice(8), 'base64').length === 32;
  return /^sm2:04[0-9a-f]{128}$/.test(s);
}

async function walk(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(join(root, rel), { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = rel === '' ? e.name : `${rel}/${e.name}`;
    const st = await lstat(join(root, p));
    if (st.isSymbolicLink()) throw new ServerError('SRV_ERR_UPDATE_PACKAGE', `symbolic link ${p} (packages hold regular files only)`, { path: p });
    if (st.isDirectory()) out.push(...await walk(root, p));
    else if (st.isFile()) out.push(p);
    else throw new ServerError('SRV_ERR_UPDATE_PACKAGE', `${p} is not a regular file`, { path: p });
  }
  return out;
}

async function fileSha256(path: string): Promise<{ sha256: string; size: number }> {
  return sha256OfChunks(createReadStream(path));
}

export interface BuildOptions {
  readonly from: string;
  readonly out: string;
  readonly name?: string;
  readonly version: string;
  readonly minPreviousVersion: string;
  /** Creation time (defaults to now); also every entry's mtime, so builds are reproducible. */
  readonly created?: Date;
  readonly limits?: PackageLimits;
}

/**
 * Packs every regular file under `from` (sorted, recursive; symbolic links refused) into `out`.
 * @throws ServerError `SRV_ERR_UPDATE_PACKAGE` (unsafe path, limits, bad versions)
 */
export async function buildPackage(opts: BuildOptions): Promise<{ manifest: PackageManifest; sha256: string; size: number }> {
  const limits = opts.limits ?? DEFAULT_PACKAGE_LIMITS;
  const created = opts.created ?? new Date();
  const paths = await walk(opts.from);
  const files: ManifestFile[] = [];
  for (const p of paths) {
    const why = unsafePathReason(p);
    if (why !== undefined) throw new ServerError('SRV_ERR_UPDATE_PACKAGE', `unsafe path ${JSON.stringify(p.slice(0, 80))}: ${why}`, { path: p });
    const st = await stat(join(opts.from, p));
    const { sha256, size } = await fileSha256(join(opts.from, p));
    files.push({ path: p, size, sha256, mode: (st.mode & 0o100) !== 0 ? 0o755 : 0o644 });
  }
  const manifest = validateManifest({ format: PACKAGE_FORMAT, name: opts.name ?? 'onecard-terminal', version: opts.version, minPreviousVersion: opts.minPreviousVersion, created: created.toISOString(), files }, limits);
  const mtime = Math.floor(created.getTime() / 1000);
  const from = opts.from;
  async function* entries(): AsyncGenerator<Uint8Array> {
    const mbytes = encodeManifest(manifest);
    yield tarHeader(MANIFEST_ENTRY, mbytes.length, 0o644, mtime);
    yield mbytes;
    yield tarPadding(mbytes.length);
    for (const f of manifest.files) {
      yield tarHeader(FILES_PREFIX + f.path, f.size, f.mode, mtime);
      let n = 0;
      for await (const c of createReadStream(join(from, f.path))) { n += (c as Buffer).length; yield c as Buffer; }
      if (n !== f.size) throw new ServerError('SRV_ERR_UPDATE_PACKAGE', `${f.path} changed while packing`, { path: f.path });
      yield tarPadding(f.size);
    }
    yield TAR_END;
  }
  await pipeline(Readable.from(entries()), createGzip({ level: 9 }), createWriteStream(opts.out, { mode: 0o644 }));
  const { sha256, size } = await fileSha256(opts.out);
  return { manifest, sha256, size };
}

/**
 * Streams a package file through the checker (no signature involved): the manifest and every
 * file hash are verified; returns the manifest, the manifest's SHA-256 and the archive's hash.
 * @throws ServerError `SRV_ERR_UPDATE_PACKAGE`, `SRV_ERR_UPDATE_HASH`
 */
export async function inspectPackage(path: string, opts: { limits?: PackageLimits; manifestSha256?: string } = {}): Promise<{ manifest: PackageManifest; manifestSha256: string; archiveSha256: string; archiveSize: number }> {
  const limits = opts.limits ?? DEFAULT_PACKAGE_LIMITS;
  const checker = new PackageChecker({ limits, ...(opts.manifestSha256 !== undefined ? { manifestSha256: opts.manifestSha256 } : {}) });
  const archiveHash = createHash('sha256');
  let archiveSize = 0;
  const src = createReadStream(path);
  src.on('data', (c) => { archiveHash.update(c as Buffer); archiveSize += (c as Buffer).length; });
  let firstErr: unknown;
  try {
    await pipeline(src, createGunzip(), async (stream: AsyncIterable<Buffer>) => {
      try {
        await feedInflated(stream, checker, limits);
      } catch (err) {
        firstErr ??= err;
        throw err;
      }
    });
  } catch (caught) {
    const err = firstErr ?? caught;
    if (err instanceof ServerError) throw err;
    throw new ServerError('SRV_ERR_UPDATE_PACKAGE', 'archive is not gzip', { field: 'gzip' }, { cause: err });
  }
  const manifest = checker.finish();
  return { manifest, manifestSha256: checker.manifestSha256, archiveSha256: archiveHash.digest('hex'), archiveSize };
}

/** Signs a package file; returns the signature file's text. @throws ServerError as {@link inspectPackage} */
export async function signPackage(path: string, key: SigningKey): Promise<string> {
  const info = await inspectPackage(path);
  const base = { name: info.manifest.name, version: info.manifest.version, manifestSha256: info.manifestSha256, archiveSha256: info.archiveSha256 };
  const sig: PackageSignature = {
    format: SIGNATURE_FORMAT, alg: key.alg, keyId: key.keyId, ...base, archiveSize: info.archiveSize,
    signature: Buffer.from(key.sign(signedStatement(base))).toString('base64'),
  };
  return `${JSON.stringify(sig, null, 2)}\n`;
}

/**
 * Verifies a package against its signature and a list of trusted public key strings: archive size
 * and hash, the signature by a trusted key, then the manifest hash, every file and the limits.
 * @throws ServerError `SRV_ERR_UPDATE_SIGNATURE`, `SRV_ERR_UPDATE_HASH`, `SRV_ERR_UPDATE_PACKAGE`
 */
export async function verifyPackage(path: string, sig: PackageSignature, trustedKeys: readonly string[], limits: PackageLimits = DEFAULT_PACKAGE_LIMITS): Promise<PackageManifest> {
  checkArchiveSignature(sig, await fileSha256(path), trustedKeys, 'trusted');
  const info = await inspectPackage(path, { limits, manifestSha256: sig.manifestSha256 });
  if (info.manifest.name !== sig.name || info.manifest.version !== sig.version) throw new ServerError('SRV_ERR_UPDATE_SIGNATURE', 'signature names another package', { field: 'version' });
  return info.manifest;
}
