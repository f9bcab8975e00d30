/**
 * The OneCard update package format, pure part (no file or network I/O): the manifest and its
 * checks, the detached signature statement, an incremental ustar reader/writer and the streaming
 * check of an archive's entries. A package is one file, `gzip(ustar)`, whose first entry is
 * `manifest.json` and whose other entries are the release's files as `files/<path>`, in manifest
 * order, regular files only (no links, no directories). The signature file is JSON naming the
 * key, the manifest's and the archive's SHA-256; the signed statement binds name, version and
 * both hashes. docs/updates.md is the normative description. The server writes packages with
 * this definition and the terminal updater reads them with it; each maps the
 * `PROTO_ERR_UPDATE_*` codes thrown here to its own codes at its edge ({@link updateErrorDetail}).
 */
import { createHash, createPublicKey, verify as edVerify } from 'node:crypto';
import { ProtocolError, PROTO_ERRORS } from '../errors.ts';
import { fromHex } from '../bytes.ts';
import { sm2Verify } from '../crypto/sm2.ts';
import { isSemver, compareSemver } from './semver.ts';

export const PACKAGE_FORMAT = 'onecard-package/1';
export const SIGNATURE_FORMAT = 'onecard-signature/1';
export const MANIFEST_ENTRY = 'manifest.json';
export const FILES_PREFIX = 'files/';
const BLOCK = 512;

/** Limits a reader enforces; writers refuse to produce packages outside them. */
export interface PackageLimits {
  readonly maxFiles: number;
  readonly maxFileBytes: number;
  readonly maxTotalBytes: number;
  readonly maxManifestBytes: number;
}

export const DEFAULT_PACKAGE_LIMITS: PackageLimits = {
  maxFiles: 20_000,
  maxFileBytes: 256 * 1024 * 1024,
  maxTotalBytes: 1024 * 1024 * 1024,
  maxManifestBytes: 4 * 1024 * 1024,
};

export interface ManifestFile {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  /** 0o644 or 0o755 (as a number). */
  readonly mode: number;
}

export interface PackageManifest {
  readonly format: typeof PACKAGE_FORMAT;
  readonly name: string;
  readonly version: string;
  readonly minPreviousVersion: string;
  /** ISO 8601 UTC creation time. */
  readonly created: string;
  readonly files: readonly ManifestFile[];
}

export type SignatureAlg = 'ed25519' | 'sm2';

export interface PackageSignature {
  readonly format: typeof SIGNATURE_FORMAT;
  readonly alg: SignatureAlg;
  /** First 16 hex digits of SHA-256 over the public key string (`ed25519:…` / `sm2:…`). */
  readonly keyId: string;
  readonly name: string;
  readonly version: string;
  readonly manifestSha256: string;
  readonly archiveSha256: string;
  readonly archiveSize: number;
  /** Base64 signature over {@link signedStatement}. */
  readonly signature: string;
}

const fail = (detail: string, details: Record<string, string | number | boolean | undefined> = {}): never => {
  throw new ProtocolError('PROTO_ERR_UPDATE_PACKAGE', detail, details);
};

const NAME = /^[a-z][a-z0-9-]{0,63}$/;
const SEGMENT = /^[A-Za-z0-9._@+~-]{1,100}$/;
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Checks one file path of a package: relative, `/`-separated, no empty, `.` or `..` segment, a
 * conservative character set, at most 200 bytes. Returns a reason, or `undefined` when safe.
 */
export function unsafePathReason(path: string): string | undefined {
  if (path.length === 0) return 'empty path';
  if (path.length > 200) return 'path longer than 200 characters';
  if (path.startsWith('/')) return 'absolute path';
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') return `path segment '${seg}'`;
    if (!SEGMENT.test(seg)) return 'path has characters outside [A-Za-z0-9._@+~-]';
  }
  return undefined;
}

/** Canonical JSON: object keys sorted, no whitespace. What the manifest entry holds. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Validates a parsed manifest: fields, semver versions, `minPreviousVersion` ≤ `version`, safe and
 * unique paths (no file also used as a directory), modes, sizes and the limits.
 * @throws ProtocolError `PROTO_ERR_UPDATE_PACKAGE` (details.field names what failed)
 */
export function validateManifest(value: unknown, limits: PackageLimits = DEFAULT_PACKAGE_LIMITS): PackageManifest {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail('manifest is not an object', { field: '/' });
  const m = value as Record<string, unknown>;
  const allowed = new Set(['format', 'name', 'version', 'minPreviousVersion', 'created', 'files']);
  for (const k of Object.keys(m)) if (!allowed.has(k)) fail(`unknown manifest field ${JSON.stringify(k.slice(0, 32))}`, { field: k.slice(0, 32) });
  if (m.format !== PACKAGE_FORMAT) fail('manifest format', { field: 'format' });
  if (typeof m.name !== 'string' || !NAME.test(m.name)) fail('manifest name', { field: 'name' });
  if (typeof m.version !== 'string' || !isSemver(m.version)) fail('manifest version is not semver', { field: 'version' });
  if (typeof m.minPreviousVersion !== 'string' || !isSemver(m.minPreviousVersion)) fail('minPreviousVersion is not semver', { field: 'minPreviousVersion' });
  if (compareSemver(m.minPreviousVersion as string, m.version as string) > 0) fail('minPreviousVersion is above version', { field: 'minPreviousVersion' });
  if (typeof m.created !== 'string' || m.created.length > 40 || Number.isNaN(Date.parse(m.created))) fail('manifest created', { field: 'created' });
  if (!Array.isArray(m.files)) return fail('manifest files', { field: 'files' });
  if (m.files.length === 0) fail('package has no files', { field: 'files' });
  if (m.files.length > limits.maxFiles) fail(`more than ${limits.maxFiles} files`, { field: 'files' });
  const paths = new Set<string>();
  const dirs = new Set<string>();
  let total = 0;
  const files: ManifestFile[] = [];
  m.files.forEach((f: unknown, i: number) => {
    const field = `files/${i}`;
    if (f === null || typeof f !== 'object') return fail('file entry', { field });
    const e = f as Record<string, unknown>;
    if (Object.keys(e).some((k) => !['path', 'size', 'sha256', 'mode'].includes(k))) fail('unknown file entry field', { field });
    if (typeof e.path !== 'string') return fail('file path', { field });
    const why = unsafePathReason(e.path);
    if (why !== undefined) fail(`unsafe path: ${why}`, { field });
    if (paths.has(e.path) || dirs.has(e.path)) fail('duplicate path', { field });
    const segs = e.path.split('/');
    for (let k = 1; k < segs.length; k++) {
      const d = segs.slice(0, k).join('/');
      if (paths.has(d)) fail('path used as file and directory', { field });
      dirs.add(d);
    }
    paths.add(e.path);
    if (typeof e.size !== 'number' || !Number.isSafeInteger(e.size) || e.size < 0 || e.size > limits.maxFileBytes) fail('file size', { field });
    total += e.size as number;
    if (total > limits.maxTotalBytes) fail(`more than ${limits.maxTotalBytes} bytes in total`, { field });
    if (typeof e.sha256 !== 'string' || !HEX64.test(e.sha256)) fail('file sha256', { field });
    if (e.mode !== 0o644 && e.mode !== 0o755) fail('file mode (0644 or 0755 only)', { field });
    files.push({ path: e.path, size: e.size as number, sha256: e.sha256 as string, mode: e.mode as number });
  });
  return { format: PACKAGE_FORMAT, name: m.name as string, version: m.version as string, minPreviousVersion: m.minPreviousVersion as string, created: m.created as string, files };
}

/** The exact bytes the manifest entry holds. */
export function encodeManifest(m: PackageManifest): Uint8Array {
  return new TextEncoder().encode(canonicalJson(m));
}

/** Lower-case hex SHA-256. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Lower-case hex SHA-256 and byte count of a stream of chunks (an archive as it is read); the
 * caller owns the I/O, e.g. `sha256OfChunks(createReadStream(path))`.
 */
export async function sha256OfChunks(chunks: AsyncIterable<Uint8Array>): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of chunks) { h.update(c); size += c.length; }
  return { sha256: h.digest('hex'), size };
}

/** The bytes a package signature covers. */
export function signedStatement(s: Pick<PackageSignature, 'name' | 'version' | 'manifestSha256' | 'archiveSha256'>): Uint8Array {
  return new TextEncoder().encode(`${SIGNATURE_FORMAT}\n${s.name}\n${s.version}\n${s.manifestSha256}\n${s.archiveSha256}\n`);
}

/** Key id of a public key string (`ed25519:<base64>` or `sm2:<hex>`). */
export function keyIdOf(publicKey: string): string {
  return createHash('sha256').update(publicKey, 'utf8').digest('hex').slice(0, 16);
}

/**
 * Parses a signature file.
 * @throws ProtocolError `PROTO_ERR_UPDATE_SIGNATURE`
 */
export function parseSignature(text: string): PackageSignature {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ProtocolError('PROTO_ERR_UPDATE_SIGNATURE', 'signature file is not JSON');
  }
  const s = v as Record<string, unknown>;
  const bad = (field: string): never => { throw new ProtocolError('PROTO_ERR_UPDATE_SIGNATURE', `signature field ${field}`, { field }); };
  if (v === null || typeof v !== 'object') bad('/');
  if (s.format !== SIGNATURE_FORMAT) bad('format');
  if (s.alg !== 'ed25519' && s.alg !== 'sm2') bad('alg');
  if (typeof s.keyId !== 'string' || !/^[0-9a-f]{16}$/.test(s.keyId)) bad('keyId');
  if (typeof s.name !== 'string' || !NAME.test(s.name)) bad('name');
  if (typeof s.version !== 'string' || !isSemver(s.version)) bad('version');
  if (typeof s.manifestSha256 !== 'string' || !HEX64.test(s.manifestSha256)) bad('manifestSha256');
  if (typeof s.archiveSha256 !== 'string' || !HEX64.test(s.archiveSha256)) bad('archiveSha256');
  if (typeof s.archiveSize !== 'number' || !Number.isSafeInteger(s.archiveSize) || s.archiveSize < 0) bad('archiveSize');
  if (typeof s.signature !== 'string' || !/^[A-Za-z0-9+/]{20,200}={0,2}$/.test(s.signature)) bad('signature');
  return s as unknown as PackageSignature;
}

// ---- ustar [POSIX.1-1988 ustar, IEEE Std 1003.1 "pax" §ustar Interchange Format] ----

function octal(buf: Uint8Array, off: number, len: number, value: number): void {
  const s = value.toString(8).padStart(len - 1, '0');
  if (s.length > len - 1) throw new ProtocolError('PROTO_ERR_UPDATE_PACKAGE', 'tar numeric field overflow');
  for (let i = 0; i < len - 1; i++) buf[off + i] = s.charCodeAt(i);
  buf[off + len - 1] = 0;
}

function ascii(buf: Uint8Array, off: number, len: number, s: string): void {
  const b = new TextEncoder().encode(s);
  if (b.length > len) throw new ProtocolError('PROTO_ERR_UPDATE_PACKAGE', 'tar text field overflow');
  buf.set(b, off);
}

/** One ustar header block for a regular file. Names over 100 bytes use the prefix field. */
export function tarHeader(name: string, size: number, mode: number, mtimeSeconds: number): Uint8Array {
  const h = new Uint8Array(BLOCK);
  let prefix = '';
  let base = name;
  if (name.length > 100) {
    const cut = name.lastIndexOf('/', 155);
    if (cut < 1 || name.length - cut - 1 > 100) throw new ProtocolError('PROTO_ERR_UPDATE_PACKAGE', 'path does not fit a ustar header');
    prefix = name.slice(0, cut);
    base = name.slice(cut + 1);
  }
  ascii(h, 0, 100, base);
  octal(h, 100, 8, mode);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, mtimeSeconds);
  h.fill(0x20, 148, 156);
  h[156] = 0x30; // '0' regular file
  ascii(h, 257, 6, 'ustar');
  h[262] = 0;
  h[263] = 0x30;
  h[264] = 0x30;
  ascii(h, 345, 155, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  const c = sum.toString(8).padStart(6, '0');
  for (let i = 0; i < 6; i++) h[148 + i] = c.charCodeAt(i);
  h[154] = 0;
  h[155] = 0x20;
  return h;
}

/** Zero padding after `size` bytes of entry data. */
export function tarPadding(size: number): Uint8Array {
  return new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The end-of-archive marker: two zero blocks. */
export const TAR_END = new Uint8Array(2 * BLOCK);

export type TarEvent =
  | { readonly type: 'entry'; readonly name: string; readonly size: number; readonly mode: number }
  | { readonly type: 'data'; readonly bytes: Uint8Array }
  | { readonly type: 'entry-end' }
  | { readonly type: 'end' };

function readOctal(h: Uint8Array, off: number, len: number, field: string): number {
  let s = '';
  for (let i = off; i < off + len; i++) {
    const b = h[i]!;
    if (b === 0 || b === 0x20) { if (s.length > 0) break; continue; }
    if (b < 0x30 || b > 0x37) return fail(`tar ${field} is not octal`, { field });
    s += String.fromCharCode(b);
  }
  return s.length === 0 ? 0 : parseInt(s, 8);
}

function readText(h: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && h[end] !== 0) end++;
  return new TextDecoder('utf-8', { fatal: false }).decode(h.subarray(off, end));
}

/**
 * Incremental ustar reader: `push(chunk)` returns the events completed by the chunk; `finish()`
 * checks the archive ended properly. Only regular-file entries are accepted (links, directories,
 * devices, pax and GNU extensions are refused); after the end marker only zero bytes may follow.
 * @throws ProtocolError `PROTO_ERR_UPDATE_PACKAGE` (details.field names the header field)
 */
export class TarReader {
  #buf = new Uint8Array(0);
  #remaining = 0; // data bytes left in the current entry
  #pad = 0; // padding bytes left after it
  #inEntry = false;
  #zeroBlocks = 0;
  #ended = false;
  readonly #maxEntryBytes: number;

  constructor(maxEntryBytes: number) {
    this.#maxEntryBytes = maxEntryBytes;
  }

  get ended(): boolean {
    return this.#ended;
  }

  push(chunk: Uint8Array): TarEvent[] {
    const out: TarEvent[] = [];
    let data = chunk;
    if (this.#buf.length > 0) {
      const joined = new Uint8Array(this.#buf.length + chunk.length);
      joined.set(this.#buf);
      joined.set(chunk, this.#buf.length);
      data = joined;
      this.#buf = new Uint8Array(0);
    }
    let off = 0;
    while (off < data.length) {
      if (this.#ended) {
        for (let i = off; i < data.length; i++) if (data[i] !== 0) fail('bytes after the end of the archive', { field: 'trailer' });
        return out;
      }
      if (this.#remaining > 0) {
        const n = Math.min(this.#remaining, data.length - off);
        out.push({ type: 'data', bytes: data.slice(off, off + n) });
        off += n;
        this.#remaining -= n;
        if (this.#remaining === 0 && this.#pad === 0) { this.#inEntry = false; out.push({ type: 'entry-end' }); }
        continue;
      }
      if (this.#pad > 0) {
        const n = Math.min(this.#pad, data.length - off);
        off += n;
        this.#pad -= n;
        if (this.#pad === 0) { this.#inEntry = false; out.push({ type: 'entry-end' }); }
        continue;
      }
      if (data.length - off < BLOCK) {
        this.#buf = data.slice(off);
        return out;
      }
      const h = data.subarray(off, off + BLOCK);
      off += BLOCK;
      if (h.every((b) => b === 0)) {
        this.#zeroBlocks++;
        if (this.#zeroBlocks === 2) this.#ended = true;
        continue;
      }
      if (this.#zeroBlocks > 0) fail('entry after a zero block', { field: 'header' });
      out.push(this.#header(h));
      if (this.#remaining === 0) { this.#inEntry = false; out.push({ type: 'entry-end' }); }
    }
    return out;
  }

  #header(h: Uint8Array): TarEvent {
    const stored = readOctal(h, 148, 8, 'chksum');
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (sum !== stored) fail('tar header checksum', { field: 'chksum' });
    if (readText(h, 257, 6) !== 'ustar') fail('not a ustar header', { field: 'magic' });
    const type = h[156]!;
    if (type !== 0x30 && type !== 0) fail(`tar entry type '${String.fromCharCode(type)}' (regular files only)`, { field: 'typeflag' });
    const prefix = readText(h, 345, 155);
    const base = readText(h, 0, 100);
    const name = prefix.length > 0 ? `${prefix}/${base}` : base;
    const size = readOctal(h, 124, 12, 'size');
    if (size > this.#maxEntryBytes) fail('tar entry larger than allowed', { field: 'size' });
    const mode = readOctal(h, 100, 8, 'mode') & 0o7777;
    this.#remaining = size;
    this.#pad = (BLOCK - (size % BLOCK)) % BLOCK;
    this.#inEntry = true;
    return { type: 'entry', name, size, mode };
  }

  /** @throws ProtocolError `PROTO_ERR_UPDATE_PACKAGE` when the archive is truncated. */
  finish(): void {
    if (!this.#ended || this.#inEntry || this.#buf.length > 0) fail('archive truncated', { field: 'trailer' });
  }
}

/**
 * Checks the sequence of archive entries against the manifest as it streams: the first entry is
 * the manifest, then exactly the manifest's files in order with their sizes, modes and hashes.
 * `onManifest` runs once the manifest is known and valid; `onFileStart` / `onFileData` /
 * `onFileEnd` let a caller extract while checking. Hash mismatches fail before `onFileEnd`.
 * @throws ProtocolError `PROTO_ERR_UPDATE_PACKAGE`, `PROTO_ERR_UPDATE_HASH`
 */
export class PackageChecker {
  readonly #limits: PackageLimits;
  readonly #expectManifestSha: string | undefined;
  readonly #reader: TarReader;
  #manifestChunks: Uint8Array[] = [];
  #manifestBytes = 0;
  #manifest: PackageManifest | undefined;
  #index = -1; // -1: manifest entry; then index in files
  #hash: ReturnType<typeof createHash> | undefined;
  #inManifest = false;
  #manifestSha256 = '';
  readonly #hooks: PackageCheckHooks;

  constructor(opts: { limits?: PackageLimits; manifestSha256?: string; hooks?: PackageCheckHooks } = {}) {
    this.#limits = opts.limits ?? DEFAULT_PACKAGE_LIMITS;
    this.#expectManifestSha = opts.manifestSha256;
    this.#hooks = opts.hooks ?? {};
    this.#reader = new TarReader(Math.max(this.#limits.maxFileBytes, this.#limits.maxManifestBytes));
  }

  get manifest(): PackageManifest | undefined {
    return this.#manifest;
  }

  /** SHA-256 of the manifest entry's bytes (empty until the manifest was read). */
  get manifestSha256(): string {
    return this.#manifestSha256;
  }

  async push(chunk: Uint8Array): Promise<void> {
    for (const ev of this.#reader.push(chunk)) await this.#event(ev);
  }

  async #event(ev: TarEvent): Promise<void> {
    if (ev.type === 'entry') {
      if (this.#manifest === undefined) {
        if (ev.name !== MANIFEST_ENTRY) fail('first entry is not manifest.json', { field: 'manifest' });
        if (ev.size > this.#limits.maxManifestBytes) fail('manifest too large', { field: 'manifest' });
        this.#inManifest = true;
        return;
      }
      this.#index++;
      const f = this.#manifest.files[this.#index];
      if (f === undefined) fail(`entry ${JSON.stringify(ev.name.slice(0, 80))} not in the manifest`, { field: 'entries' });
      if (ev.name !== FILES_PREFIX + f!.path) fail(`entry ${JSON.stringify(ev.name.slice(0, 80))} out of manifest order`, { field: 'entries', index: this.#index });
      if (ev.size !== f!.size) fail(`size of ${f!.path}`, { field: 'size', path: f!.path });
      if (ev.mode !== f!.mode) fail(`mode of ${f!.path}`, { field: 'mode', path: f!.path });
      this.#hash = createHash('sha256');
      await this.#hooks.onFileStart?.(f!);
      return;
    }
    if (ev.type === 'data') {
      if (this.#inManifest) {
        this.#manifestChunks.push(ev.bytes);
        this.#manifestBytes += ev.bytes.length;
        return;
      }
      this.#hash!.update(ev.bytes);
      await this.#hooks.onFileData?.(ev.bytes);
      return;
    }
    if (ev.type === 'entry-end') {
      if (this.#inManifest) {
        this.#inManifest = false;
        const bytes = new Uint8Array(this.#manifestBytes);
        let o = 0;
        for (const c of this.#manifestChunks) { bytes.set(c, o); o += c.length; }
        this.#manifestChunks = [];
        this.#manifestSha256 = sha256Hex(bytes);
        if (this.#expectManifestSha !== undefined && this.#manifestSha256 !== this.#expectManifestSha) {
          throw new ProtocolError('PROTO_ERR_UPDATE_HASH', 'manifest hash differs from the signed one', { field: 'manifest' });
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
        } catch {
          return fail('manifest is not UTF-8 JSON', { field: 'manifest' });
        }
        this.#manifest = validateManifest(parsed, this.#limits);
        await this.#hooks.onManifest?.(this.#manifest);
        return;
      }
      const f = this.#manifest!.files[this.#index]!;
      const got = this.#hash!.digest('hex');
      if (got !== f.sha256) throw new ProtocolError('PROTO_ERR_UPDATE_HASH', `sha256 of ${f.path}`, { path: f.path });
      await this.#hooks.onFileEnd?.(f);
    }
  }

  /** @throws ProtocolError `PROTO_ERR_UPDATE_PACKAGE` when entries are missing or the archive is truncated. */
  finish(): PackageManifest {
    this.#reader.finish();
    if (this.#manifest === undefined) return fail('archive has no manifest', { field: 'manifest' });
    if (this.#index !== this.#manifest.files.length - 1) fail('archive lacks files the manifest lists', { field: 'entries' });
    return this.#manifest;
  }
}

export interface PackageCheckHooks {
  onManifest?(m: PackageManifest): void | Promise<void>;
  onFileStart?(f: ManifestFile): void | Promise<void>;
  onFileData?(bytes: Uint8Array): void | Promise<void>;
  onFileEnd?(f: ManifestFile): void | Promise<void>;
}

/** The codes this module throws. */
export type UpdateErrorCode = 'PROTO_ERR_UPDATE_PACKAGE' | 'PROTO_ERR_UPDATE_HASH' | 'PROTO_ERR_UPDATE_SIGNATURE';

/**
 * When `err` is one of this module's errors: its code, free-text detail and details, so that the
 * server and the terminal can rethrow it under their own code with the same message.
 */
export function updateErrorDetail(err: unknown): { code: UpdateErrorCode; detail: string | undefined; details: Record<string, string | number | boolean | undefined> } | undefined {
  if (!(err instanceof ProtocolError)) return undefined;
  const code = err.code;
  if (code !== 'PROTO_ERR_UPDATE_PACKAGE' && code !== 'PROTO_ERR_UPDATE_HASH' && code !== 'PROTO_ERR_UPDATE_SIGNATURE') return undefined;
  // The templates of these codes have no placeholders, so the message is `template: detail`.
  const template = PROTO_ERRORS[code];
  const detail = err.message.startsWith(`${template}: `) ? err.message.slice(template.length + 2) : undefined;
  return { code, detail, details: { ...err.details } };
}

/** The most bytes a package within `limits` can inflate to (entries, headers, padding, end marker). */
export function maxInflatedBytes(limits: PackageLimits): number {
  return limits.maxTotalBytes + limits.maxManifestBytes + (limits.maxFiles + 1) * 1024 + 4096;
}

/**
 * Feeds the inflated (gunzipped) bytes of an archive to `checker`, refusing an archive that
 * inflates beyond what `limits` allow (a compression bomb) before the checker sees the excess.
 * The caller owns the I/O (file, gunzip) and calls `checker.finish()` afterwards.
 * @throws ProtocolError `PROTO_ERR_UPDATE_PACKAGE`, `PROTO_ERR_UPDATE_HASH`; whatever the hooks or the stream throw
 */
export async function feedInflated(stream: AsyncIterable<Uint8Array>, checker: PackageChecker, limits: PackageLimits): Promise<void> {
  const max = maxInflatedBytes(limits);
  let inflated = 0;
  for await (const c of stream) {
    inflated += c.length;
    if (inflated > max) fail('archive inflates beyond the limits', { field: 'gzip' });
    // A plain view: the reader slices chunks and must get copies, not Buffer views.
    await checker.push(new Uint8Array(c.buffer, c.byteOffset, c.length));
  }
}

const ED25519_SPKI_PREFIX = new Uint8Array([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

/**
 * Verifies `signature` over `message` with a public key string (`ed25519:<base64 of the 32-byte
 * key>` or `sm2:<hex of 04‖x‖y>`); false for any malformed key or signature.
 */
export function verifyWithPublicKey(publicKey: string, alg: SignatureAlg, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    if (alg === 'sm2') return publicKey.startsWith('sm2:') && sm2Verify(fromHex(publicKey.slice(4)), message, signature);
    if (!publicKey.startsWith('ed25519:')) return false;
    const raw = Buffer.from(publicKey.slice(8), 'base64');
    if (raw.length !== 32) return false;
    const der = new Uint8Array(ED25519_SPKI_PREFIX.length + 32);
    der.set(ED25519_SPKI_PREFIX);
    der.set(raw, ED25519_SPKI_PREFIX.length);
    return edVerify(null, message, createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' }), signature);
  } catch {
    return false;
  }
}

/**
 * Checks a package archive against its signature file: the archive's measured SHA-256 and size
 * against the signed ones, then the signature by the key of `keys` whose key id it names.
 * `keyList` is how the caller names its list in the refusal (`trusted` on the server, `pinned`
 * on the terminal). Returns that key.
 * @throws ProtocolError `PROTO_ERR_UPDATE_HASH` (details.field `archive`); `PROTO_ERR_UPDATE_SIGNATURE` (details.keyId) when no key of the list has the id or the signature does not verify
 */
export function checkArchiveSignature(sig: PackageSignature, archive: { readonly sha256: string; readonly size: number }, keys: readonly string[], keyList: 'trusted' | 'pinned'): string {
  if (archive.size !== sig.archiveSize || archive.sha256 !== sig.archiveSha256) throw new ProtocolError('PROTO_ERR_UPDATE_HASH', 'archive differs from the signed one', { field: 'archive' });
  const key = keys.find((k) => keyIdOf(k) === sig.keyId);
  if (key === undefined) throw new ProtocolError('PROTO_ERR_UPDATE_SIGNATURE', `key ${sig.keyId} is not ${keyList}`, { keyId: sig.keyId });
  if (!verifyWithPublicKey(key, sig.alg, signedStatement(sig), new Uint8Array(Buffer.from(sig.signature, 'base64')))) {
    throw new ProtocolError('PROTO_ERR_UPDATE_SIGNATURE', 'signature does not verify', { keyId: sig.keyId });
  }
  return key;
}
