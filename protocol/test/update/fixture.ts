/** A one-file update package for the package-format tests: its manifest, archive bytes and chunking. */
import { FILES_PREFIX, MANIFEST_ENTRY, PACKAGE_FORMAT, TAR_END, encodeManifest, sha256Hex, tarHeader, tarPadding, validateManifest, type PackageManifest } from '@onecard/protocol/update';

export const data = new TextEncoder().encode('console.log(1)\n');
export const manifest: PackageManifest = validateManifest({
  format: PACKAGE_FORMAT, name: 'onecard-terminal', version: '1.2.0', minPreviousVersion: '1.0.0', created: '2026-01-01T00:00:00.000Z',
  files: [{ path: 'a.js', size: data.length, sha256: sha256Hex(data), mode: 0o644 }],
});

/** The uncompressed archive of {@link manifest} with `fileBytes` as the content of `a.js`. */
export function archive(fileBytes: Uint8Array): Uint8Array {
  const m = encodeManifest(manifest);
  const parts = [tarHeader(MANIFEST_ENTRY, m.length, 0o644, 0), m, tarPadding(m.length), tarHeader(FILES_PREFIX + 'a.js', fileBytes.length, 0o644, 0), fileBytes, tarPadding(fileBytes.length), TAR_END];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export async function* chunks(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let o = 0; o < bytes.length; o += size) yield bytes.subarray(o, o + size);
}
