/**
 * Verification and extraction of an update package on the terminal: the archive's size and
 * SHA-256 against the signature file, the signature against the keys pinned in the terminal's
 * configuration (Ed25519 or SM2), then a streaming pass that checks the manifest hash and every
 * file while writing the files into a fresh directory. Nothing is extracted before the signature
 * verified; a failure part-way leaves a directory the caller deletes.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { TerminalError } from '../errors.ts';
import { DEFAULT_PACKAGE_LIMITS, sha256OfChunks, verifyWithPublicKey, type PackageLimits, type PackageManifest, type PackageSignature } from '@onecard/protocol/update';
import { PackageChecker, checkArchiveSignature, feedInflated, parseSignature } from './package-format.ts';

/** Verifies a signature with a pinned public key string (`ed25519:<base64>` / `sm2:<hex>`); false for malformed keys. */
export const verifyWithPinnedKey = verifyWithPublicKey;

/** SHA-256 and size of a file, streamed. */
export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  return sha256OfChunks(createReadStream(path));
}

/**
 * Checks the archive against the signature and the pinned keys (no extraction).
 * @throws TerminalError `TERM_ERR_UPDATE_SIGNATURE`, `TERM_ERR_UPDATE_HASH`
 */
export async function checkSignature(archivePath: string, sigText: string, pinnedKeys: readonly string[]): Promise<PackageSignature> {
  const sig = parseSignature(sigText);
  checkArchiveSignature(sig, await hashFile(archivePath), pinnedKeys, 'pinned');
  return sig;
}

/**
 * Verifies a package and, when `destDir` is given, extracts its files there (the directory must
 * not exist yet). Returns the manifest.
 * @throws TerminalError `TERM_ERR_UPDATE_SIGNATURE`, `TERM_ERR_UPDATE_HASH`, `TERM_ERR_UPDATE_PACKAGE`, `TERM_ERR_UPDATE_INSTALL`
 */
export async function verifyPackageFile(archivePath: string, sigText: string, pinnedKeys: readonly string[], destDir?: string, limits: PackageLimits = DEFAULT_PACKAGE_LIMITS): Promise<PackageManifest> {
  const sig = await checkSignature(archivePath, sigText, pinnedKeys);
  let fh: FileHandle | undefined;
  const root = destDir === undefined ? undefined : resolve(destDir);
  if (root !== undefined) {
    try {
      await mkdir(root, { recursive: false, mode: 0o755 });
    } catch (cause) {
      throw new TerminalError('TERM_ERR_UPDATE_INSTALL', `cannot create ${root}`, {}, { cause });
    }
  }
  const checker = new PackageChecker({
    limits, manifestSha256: sig.manifestSha256,
    hooks: root === undefined ? {} : {
      async onFileStart(f) {
        const target = join(root, f.path);
        if (!target.startsWith(root + sep)) throw new TerminalError('TERM_ERR_UPDATE_PACKAGE', 'path escapes the release directory', { path: f.path });
        await mkdir(dirname(target), { recursive: true, mode: 0o755 });
        fh = await open(target, 'wx', f.mode); // exclusive: never follows a planted link
      },
      async onFileData(bytes) { await fh!.write(bytes); },
      async onFileEnd(f) { await fh!.chmod(f.mode); await fh!.close(); fh = undefined; },
    },
  });
  let firstErr: unknown;
  try {
    await pipeline(createReadStream(archivePath), createGunzip(), async (stream: AsyncIterable<Buffer>) => {
      try {
        await feedInflated(stream, checker, limits);
      } catch (err) {
        firstErr ??= err;
        throw err;
      }
    });
  } catch (caught) {
    const err = firstErr ?? caught;
    await fh?.close().catch(() => {});
    if (err instanceof TerminalError) throw err;
    throw new TerminalError('TERM_ERR_UPDATE_PACKAGE', 'archive is not gzip', { field: 'gzip' }, { cause: err });
  }
  const manifest = checker.finish();
  if (manifest.name !== sig.name || manifest.version !== sig.version) throw new TerminalError('TERM_ERR_UPDATE_SIGNATURE', 'signature names another package', { field: 'version' });
  return manifest;
}
