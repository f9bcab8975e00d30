/**
 * The compact hotlist for millions of cards [architecture "hotlist": 10 M cards, lookup ≤ 2 µs,
 * ≤ 100 MB]. A card number (卡号, 9 characters `[0-9A-Z]`) is packed as a base-36 integer below
 * 36^9 < 2^47. The base list is a sorted array split by the top 20 bits: `offsets` (2^20 + 1
 * Uint32, 4 MiB) gives each bucket's range in `lows` (one Uint32 per card: the low 27 bits), so a
 * lookup is one bucket index and a binary search over a few entries. Deltas land in a small
 * overlay (`adds` / `removes` sets of packed numbers) that is merged into a new base in one linear
 * pass once it grows past {@link CompactHotlistOptions.mergeThreshold}; a full snapshot builds a
 * new base and swaps it in. Entries that are not card numbers (e.g. card IDs) live in a small
 * string set beside it.
 *
 * On disk (`openCompactHotlist(dir)`): `hotlist.bin` holds the base (header + 6-byte entries +
 * extra strings, SHA-256 over the body) and `hotlist.delta` the overlay since that base; both are
 * written to a temporary file, fsync'd, renamed and the directory fsync'd. A delta rewrites only
 * the small overlay file; a merge or snapshot rewrites the base and then drops the overlay (an
 * overlay whose base version does not match the base file is ignored — the fleet agent then
 * fetches the delta again).
 */
import { createHash } from 'node:crypto';
import { readFile, rename, unlink, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TerminalError } from '../errors.ts';
import { writeFileAtomic } from '../fs/atomic.ts';
import type { MutableHotlist } from './index.ts';

/** Bits of a packed card number used as the bucket index. */
export const HOTLIST_BUCKET_BITS = 20;
const LOW_BITS = 27;
const LOW_SPAN = 2 ** LOW_BITS;
const BUCKETS = 2 ** HOTLIST_BUCKET_BITS;
/** Number of distinct card numbers: 36^9. */
export const CARD_NUMBER_SPACE = 36 ** 9;

/** A hotlist change as the fleet agent delivers it (delta by base version, or a full snapshot). */
export type HotlistChange =
  | { readonly kind: 'delta'; readonly fromVersion: number; readonly version: number; readonly add: readonly string[]; readonly remove: readonly string[] }
  | { readonly kind: 'full'; readonly version: number; readonly cards: readonly string[] };

const DIGIT = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) DIGIT[48 + i] = i;
for (let i = 0; i < 26; i++) {
  DIGIT[65 + i] = 10 + i;
  DIGIT[97 + i] = 10 + i; // lower case accepted, as upper
}
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * Packs a 9-character card number `[0-9A-Za-z]{9}` (case-insensitive) into an integer below
 * {@link CARD_NUMBER_SPACE}; −1 for anything else.
 */
export function packCardNumber(s: string): number {
  if (s.length !== 9) return -1;
  let v = 0;
  for (let i = 0; i < 9; i++) {
    const c = s.charCodeAt(i);
    const d = c < 128 ? DIGIT[c]! : -1;
    if (d < 0) return -1;
    v = v * 36 + d;
  }
  return v;
}

/** Inverse of {@link packCardNumber} (upper case). */
export function unpackCardNumber(v: number): string {
  let s = '';
  for (let i = 0; i < 9; i++) {
    s = ALPHABET[v % 36]! + s;
    v = Math.floor(v / 36);
  }
  return s;
}

const EXTRA = /^[\x21-\x7e]{1,64}$/;

function checkVersion(v: unknown, field = 'version'): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new TerminalError('TERM_ERR_HOTLIST_FILE', `${field} must be a non-negative integer`, { field });
  return v;
}

/** Sorted, de-duplicated packed values. */
interface Base {
  readonly offsets: Uint32Array;
  readonly lows: Uint32Array;
}

function baseHas(b: Base, v: number): boolean {
  const bucket = Math.floor(v / LOW_SPAN);
  const low = v - bucket * LOW_SPAN;
  let lo = b.offsets[bucket]!;
  let hi = b.offsets[bucket + 1]! - 1;
  const lows = b.lows;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const x = lows[mid]!;
    if (x === low) return true;
    if (x < low) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** Builds a base from sorted unique packed values. */
function baseFromSorted(values: Float64Array, n: number): Base {
  const offsets = new Uint32Array(BUCKETS + 1);
  const lows = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    const bucket = Math.floor(v / LOW_SPAN);
    offsets[bucket + 1]!++;
    lows[i] = v - bucket * LOW_SPAN;
  }
  for (let b = 0; b < BUCKETS; b++) offsets[b + 1]! += offsets[b]!;
  return { offsets, lows };
}

/** Sorts and de-duplicates in place; returns the unique count. */
function sortUnique(values: Float64Array): number {
  values.sort();
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (n === 0 || values[n - 1] !== v) values[n++] = v;
  }
  return n;
}

/** Calls `fn` with every packed value of the base in ascending order. */
function forEachBase(b: Base, fn: (v: number) => void): void {
  const { offsets, lows } = b;
  for (let bucket = 0; bucket < BUCKETS; bucket++) {
    const end = offsets[bucket + 1]!;
    const high = bucket * LOW_SPAN;
    for (let i = offsets[bucket]!; i < end; i++) fn(high + lows[i]!);
  }
}

interface State {
  readonly version: number;
  readonly base: Base;
  readonly adds: ReadonlySet<number>;
  readonly removes: ReadonlySet<number>;
  readonly extras: ReadonlySet<string>;
  /** Version of the base (the overlay holds the changes from there to `version`). */
  readonly baseVersion: number;
}

/** Split a list into packed card numbers and other entries. @throws TerminalError `TERM_ERR_HOTLIST_FILE` */
function classify(cards: readonly unknown[], field: string): { packed: Float64Array; extras: string[] } {
  const packed = new Float64Array(cards.length);
  let n = 0;
  const extras: string[] = [];
  for (let i = 0; i < cards.length; i++) {
    const c = cards[i];
    if (typeof c !== 'string') throw new TerminalError('TERM_ERR_HOTLIST_FILE', `${field}[${i}] is not a card number`, { field, index: i });
    const v = packCardNumber(c);
    if (v >= 0) packed[n++] = v;
    else if (EXTRA.test(c)) extras.push(c.toUpperCase());
    else throw new TerminalError('TERM_ERR_HOTLIST_FILE', `${field}[${i}] is not a card number`, { field, index: i });
  }
  return { packed: n === cards.length ? packed : packed.subarray(0, n), extras };
}

export interface CompactHotlistOptions {
  /**
   * Merge the overlay into the base once adds + removes exceed this many entries (default:
   * max(65 536, base size / 64)).
   */
  readonly mergeThreshold?: number;
  /** Called with the new state after every change, before it becomes visible; throw to refuse it. */
  readonly persist?: (snapshot: HotlistSnapshot, kind: 'base' | 'overlay') => Promise<void>;
}

/** A read-only view of a state, handed to persistence. */
export interface HotlistSnapshot {
  readonly version: number;
  readonly baseVersion: number;
  readonly base: Base;
  readonly adds: ReadonlySet<number>;
  readonly removes: ReadonlySet<number>;
  readonly extras: ReadonlySet<string>;
}

/** Sizes for diagnostics and benchmarks. */
export interface CompactHotlistStats {
  readonly version: number;
  readonly size: number;
  readonly baseEntries: number;
  readonly overlayAdds: number;
  readonly overlayRemoves: number;
  readonly extras: number;
  /** Bytes held by the typed arrays of the base. */
  readonly baseBytes: number;
  readonly merges: number;
}

/**
 * The compact hotlist (in memory; see {@link openCompactHotlist} for the persistent one).
 * Implements `Hotlist`/`MutableHotlist` for the card services and `apply(change)` for the fleet
 * agent. Changes are serialised; each becomes visible atomically (one state swap).
 */
export class CompactHotlist implements MutableHotlist {
  #s: State;
  #chain: Promise<void> = Promise.resolve();
  readonly #threshold: number | undefined;
  readonly #persist: CompactHotlistOptions['persist'];
  #merges = 0;

  constructor(options: CompactHotlistOptions = {}, initial?: HotlistSnapshot) {
    this.#threshold = options.mergeThreshold;
    this.#persist = options.persist;
    this.#s = initial ?? { version: 0, baseVersion: 0, base: baseFromSorted(new Float64Array(0), 0), adds: new Set(), removes: new Set(), extras: new Set() };
  }

  /**
   * Builds a list at `version` from `cards` (card numbers, or other printable entries up to 64
   * characters such as card IDs).
   * @throws TerminalError `TERM_ERR_HOTLIST_FILE` on a bad version or entry
   */
  static from(version: number, cards: readonly string[], options: CompactHotlistOptions = {}): CompactHotlist {
    checkVersion(version);
    const { packed, extras } = classify(cards, 'cards');
    const copy = Float64Array.from(packed);
    const n = sortUnique(copy);
    return new CompactHotlist(options, { version, baseVersion: version, base: baseFromSorted(copy, n), adds: new Set(), removes: new Set(), extras: new Set(extras) });
  }

  get version(): number { return this.#s.version; }
  get size(): number { return this.#s.base.lows.length + this.#s.adds.size - this.#s.removes.size + this.#s.extras.size; }

  /** Whether a card number (or other listed entry) is on the list; case-insensitive. */
  has(cardNumber: string): boolean {
    const s = this.#s;
    const v = packCardNumber(cardNumber);
    if (v < 0) return s.extras.size > 0 && s.extras.has(cardNumber.toUpperCase());
    if (s.adds.size > 0 && s.adds.has(v)) return true;
    if (s.removes.size > 0 && s.removes.has(v)) return false;
    return baseHas(s.base, v);
  }

  stats(): CompactHotlistStats {
    const s = this.#s;
    return {
      version: s.version, size: this.size, baseEntries: s.base.lows.length, overlayAdds: s.adds.size, overlayRemoves: s.removes.size,
      extras: s.extras.size, baseBytes: s.base.lows.byteLength + s.base.offsets.byteLength, merges: this.#merges,
    };
  }

  /** Every listed entry, card numbers ascending first, then the other entries sorted. */
  *entries(): IterableIterator<string> {
    const s = this.#s;
    const adds = Float64Array.from(s.adds).sort();
    let a = 0;
    const out: string[] = [];
    forEachBase(s.base, (v) => {
      while (a < adds.length && adds[a]! < v) out.push(unpackCardNumber(adds[a++]!));
      if (!s.removes.has(v)) out.push(unpackCardNumber(v));
    });
    while (a < adds.length) out.push(unpackCardNumber(adds[a++]!));
    yield* out;
    yield* [...s.extras].sort();
  }

  /** Current state (for persistence and tests). */
  snapshot(): HotlistSnapshot { return this.#s; }

  /**
   * Applies a fleet change: a delta on exactly the current version, or a full snapshot.
   * @throws TerminalError `TERM_ERR_HOTLIST_DELTA` (delta on another version),
   *   `TERM_ERR_HOTLIST_FILE` (bad entry/version; persistence failure — the list is unchanged)
   */
  apply(change: HotlistChange): Promise<void> {
    return change.kind === 'full' ? this.#replace(change.version, change.cards, false) : this.applyDelta(change.fromVersion, change.version, change.add, change.remove);
  }

  /**
   * Replaces the list with a strictly newer version.
   * @throws TerminalError `TERM_ERR_HOTLIST_VERSION`, `TERM_ERR_HOTLIST_FILE`
   */
  replace(version: number, cards: readonly string[]): Promise<void> {
    return this.#replace(version, cards, true);
  }

  #replace(version: number, cards: readonly string[], newerOnly: boolean): Promise<void> {
    return this.#serial(async () => {
      checkVersion(version);
      if (newerOnly && version <= this.#s.version) throw new TerminalError('TERM_ERR_HOTLIST_VERSION', `${version} <= ${this.#s.version}`, { version, current: this.#s.version });
      const { packed, extras } = classify(cards, 'cards');
      const copy = Float64Array.from(packed);
      const n = sortUnique(copy);
      const next: State = { version, baseVersion: version, base: baseFromSorted(copy, n), adds: new Set(), removes: new Set(), extras: new Set(extras) };
      await this.#persist?.(next, 'base');
      this.#s = next;
    });
  }

  /**
   * Removes `remove` then adds `add` (set semantics, idempotent), moving from `fromVersion` (which
   * must be the current version) to `version`.
   * @throws TerminalError `TERM_ERR_HOTLIST_DELTA`, `TERM_ERR_HOTLIST_FILE`
   */
  applyDelta(fromVersion: number, version: number, add: readonly string[], remove: readonly string[]): Promise<void> {
    return this.#serial(async () => {
      checkVersion(version);
      const cur = this.#s;
      if (fromVersion !== cur.version) throw new TerminalError('TERM_ERR_HOTLIST_DELTA', `delta from ${fromVersion} on ${cur.version}`, { fromVersion, current: cur.version });
      const rem = classify(remove, 'remove');
      const ad = classify(add, 'add');
      const adds = new Set(cur.adds);
      const removes = new Set(cur.removes);
      const extras = new Set(cur.extras);
      for (const v of rem.packed) {
        if (adds.delete(v)) continue;
        if (baseHas(cur.base, v)) removes.add(v);
      }
      for (const e of rem.extras) extras.delete(e);
      for (const v of ad.packed) {
        if (removes.delete(v)) continue;
        if (!baseHas(cur.base, v)) adds.add(v);
      }
      for (const e of ad.extras) extras.add(e);
      let next: State = { version, baseVersion: cur.baseVersion, base: cur.base, adds, removes, extras };
      const threshold = this.#threshold ?? Math.max(65_536, cur.base.lows.length / 64);
      let kind: 'base' | 'overlay' = 'overlay';
      if (adds.size + removes.size > threshold) {
        next = merge(next);
        kind = 'base';
        this.#merges++;
      }
      await this.#persist?.(next, kind);
      this.#s = next;
    });
  }

  /** Merges the overlay into a new base now (persisted as a base). */
  compact(): Promise<void> {
    return this.#serial(async () => {
      const next = merge(this.#s);
      await this.#persist?.(next, 'base');
      this.#s = next;
      this.#merges++;
    });
  }

  #serial(fn: () => Promise<void>): Promise<void> {
    const run = this.#chain.then(fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }
}

/** One linear pass: base minus removes plus sorted adds. */
function merge(s: State): State {
  const adds = Float64Array.from(s.adds).sort();
  const n = s.base.lows.length - s.removes.size + adds.length;
  const out = new Float64Array(n);
  let k = 0;
  let a = 0;
  forEachBase(s.base, (v) => {
    while (a < adds.length && adds[a]! < v) out[k++] = adds[a++]!;
    if (!s.removes.has(v)) out[k++] = v;
  });
  while (a < adds.length) out[k++] = adds[a++]!;
  return { version: s.version, baseVersion: s.version, base: baseFromSorted(out, k), adds: new Set(), removes: new Set(), extras: s.extras };
}

// ---------------------------------------------------------------------------------------------
// Files

const BASE_MAGIC = 0x4c48434f; // "OCHL" little-endian
const DELTA_MAGIC = 0x4448434f; // "OCHD"
const FORMAT = 1;
const HEADER = 72;
export const HOTLIST_BASE_FILE = 'hotlist.bin';
export const HOTLIST_DELTA_FILE = 'hotlist.delta';

function put48(view: DataView, off: number, v: number): void {
  view.setUint32(off, v % 0x1_0000_0000, true);
  view.setUint16(off + 4, Math.floor(v / 0x1_0000_0000), true);
}
function get48(view: DataView, off: number): number {
  return view.getUint16(off + 4, true) * 0x1_0000_0000 + view.getUint32(off, true);
}

/**
 * Header (72 bytes, little-endian): magic u32, format u16, kind u16 (0 base, 1 overlay),
 * version f64, baseVersion f64, count u32 (packed entries), count2 u32 (overlay removes),
 * extrasBytes u32, 4 reserved (0), SHA-256 over header bytes 0..39 ‖ body (32). Body: `count` (+ `count2`) 6-byte
 * entries, then the extra entries as a JSON array of strings.
 */
function encodeFile(kind: 0 | 1, version: number, baseVersion: number, first: Iterable<number>, firstCount: number, second: Iterable<number>, secondCount: number, extras: ReadonlySet<string>): Uint8Array {
  const extrasBytes = Buffer.from(JSON.stringify([...extras].sort()), 'utf8');
  const bodyLen = (firstCount + secondCount) * 6 + extrasBytes.length;
  const buf = new Uint8Array(HEADER + bodyLen);
  const view = new DataView(buf.buffer);
  let off = HEADER;
  for (const v of first) { put48(view, off, v); off += 6; }
  for (const v of second) { put48(view, off, v); off += 6; }
  buf.set(extrasBytes, off);
  view.setUint32(0, kind === 0 ? BASE_MAGIC : DELTA_MAGIC, true);
  view.setUint16(4, FORMAT, true);
  view.setUint16(6, kind, true);
  view.setFloat64(8, version, true);
  view.setFloat64(16, baseVersion, true);
  view.setUint32(24, firstCount, true);
  view.setUint32(28, secondCount, true);
  view.setUint32(32, extrasBytes.length, true);
  buf.set(createHash('sha256').update(buf.subarray(0, 40)).update(buf.subarray(HEADER)).digest(), 40);
  return buf;
}

/** Encodes the base of a snapshot as a `hotlist.bin` image. */
export function encodeHotlistBase(s: HotlistSnapshot): Uint8Array {
  function* values(): Generator<number> {
    const { offsets, lows } = s.base;
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      const end = offsets[bucket + 1]!;
      const high = bucket * LOW_SPAN;
      for (let i = offsets[bucket]!; i < end; i++) yield high + lows[i]!;
    }
  }
  return encodeFile(0, s.baseVersion, s.baseVersion, values(), s.base.lows.length, [], 0, s.extras);
}

/** Encodes the overlay of a snapshot as a `hotlist.delta` image. */
export function encodeHotlistOverlay(s: HotlistSnapshot): Uint8Array {
  return encodeFile(1, s.version, s.baseVersion, s.adds, s.adds.size, s.removes, s.removes.size, s.extras);
}

interface Decoded { readonly kind: 0 | 1; readonly version: number; readonly baseVersion: number; readonly first: Float64Array; readonly second: Float64Array; readonly extras: string[] }

/**
 * Decodes a `hotlist.bin` / `hotlist.delta` image.
 * @throws TerminalError `TERM_ERR_HOTLIST_CORRUPT` (details.field: magic, format, length, checksum, entries, extras)
 */
export function decodeHotlistFile(buf: Uint8Array): Decoded {
  const bad = (field: string, why: string): never => { throw new TerminalError('TERM_ERR_HOTLIST_CORRUPT', `${field}: ${why}`, { field }); };
  if (buf.length < HEADER) bad('length', `${buf.length} bytes is shorter than the header`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = view.getUint32(0, true);
  if (magic !== BASE_MAGIC && magic !== DELTA_MAGIC) bad('magic', 'not a OneCard hotlist file');
  if (view.getUint16(4, true) !== FORMAT) bad('format', `format ${view.getUint16(4, true)}`);
  const kind = view.getUint16(6, true);
  if (kind !== (magic === BASE_MAGIC ? 0 : 1)) bad('format', 'kind does not match magic');
  const version = view.getFloat64(8, true);
  const baseVersion = view.getFloat64(16, true);
  if (!Number.isSafeInteger(version) || version < 0 || !Number.isSafeInteger(baseVersion) || baseVersion < 0) bad('version', 'not a non-negative integer');
  const c1 = view.getUint32(24, true);
  const c2 = view.getUint32(28, true);
  const xl = view.getUint32(32, true);
  if (buf.length !== HEADER + (c1 + c2) * 6 + xl) bad('length', `${buf.length} bytes, header says ${HEADER + (c1 + c2) * 6 + xl}`);
  const sum = createHash('sha256').update(buf.subarray(0, 40)).update(buf.subarray(HEADER)).digest();
  if (!Buffer.from(buf.subarray(40, HEADER)).equals(sum)) bad('checksum', 'SHA-256 differs');
  const first = new Float64Array(c1);
  const second = new Float64Array(c2);
  let off = HEADER;
  for (let i = 0; i < c1; i++, off += 6) first[i] = get48(view, off);
  for (let i = 0; i < c2; i++, off += 6) second[i] = get48(view, off);
  for (const arr of [first, second]) for (let i = 0; i < arr.length; i++) if (arr[i]! >= CARD_NUMBER_SPACE) bad('entries', `entry ${i} out of range`);
  if (kind === 0) for (let i = 1; i < c1; i++) if (first[i - 1]! >= first[i]!) bad('entries', `entry ${i} not ascending`);
  let extras: unknown;
  try { extras = JSON.parse(Buffer.from(buf.subarray(off)).toString('utf8')); } catch { bad('extras', 'not JSON'); }
  if (!Array.isArray(extras) || !extras.every((e) => typeof e === 'string' && EXTRA.test(e))) bad('extras', 'not a list of entries');
  return { kind: kind as 0 | 1, version, baseVersion, first, second, extras: extras as string[] };
}

/** A compact hotlist persisted in a directory. */
export interface PersistentHotlist extends CompactHotlist {
  readonly dir: string;
}

export interface OpenCompactHotlistOptions {
  readonly mergeThreshold?: number;
  /**
   * What to do when `hotlist.bin` is corrupt: `throw` (default) or `reset` (move it aside to
   * `hotlist.bin.corrupt` and start empty at version 0, so the fleet agent fetches a full list).
   */
  readonly onCorrupt?: 'throw' | 'reset';
  /** Told when a corrupt file was moved aside or an overlay ignored. */
  readonly onWarning?: (what: 'base-corrupt' | 'overlay-corrupt' | 'overlay-stale', detail: string) => void;
}

/**
 * Opens (creating the directory if needed) the compact hotlist stored in `dir`. A missing base
 * file gives an empty list at version 0. A corrupt or stale overlay is ignored (the version is
 * then the base's, and the agent fetches the changes again).
 * @throws TerminalError `TERM_ERR_HOTLIST_CORRUPT` (corrupt base, unless `onCorrupt: 'reset'`),
 *   `TERM_ERR_HOTLIST_FILE` (I/O)
 */
export async function openCompactHotlist(dir: string, options: OpenCompactHotlistOptions = {}): Promise<PersistentHotlist> {
  try { await mkdir(dir, { recursive: true, mode: 0o700 }); } catch (cause) { throw new TerminalError('TERM_ERR_HOTLIST_FILE', `cannot create ${dir}`, { field: 'dir' }, { cause }); }
  const basePath = join(dir, HOTLIST_BASE_FILE);
  const deltaPath = join(dir, HOTLIST_DELTA_FILE);
  const read = async (p: string): Promise<Uint8Array | undefined> => {
    try { return new Uint8Array(await readFile(p)); } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new TerminalError('TERM_ERR_HOTLIST_FILE', `cannot read ${p}`, { field: 'file' }, { cause: err });
    }
  };
  let initial: HotlistSnapshot | undefined;
  const baseBytes = await read(basePath);
  if (baseBytes !== undefined) {
    try {
      const d = decodeHotlistFile(baseBytes);
      if (d.kind !== 0) throw new TerminalError('TERM_ERR_HOTLIST_CORRUPT', 'base file holds an overlay', { field: 'magic' });
      initial = { version: d.version, baseVersion: d.version, base: baseFromSorted(d.first, d.first.length), adds: new Set(), removes: new Set(), extras: new Set(d.extras) };
    } catch (err) {
      if (options.onCorrupt !== 'reset') throw err;
      options.onWarning?.('base-corrupt', (err as Error).message);
      await rename(basePath, `${basePath}.corrupt`).catch(() => undefined);
      await unlink(deltaPath).catch(() => undefined);
    }
  }
  if (initial !== undefined) {
    const deltaBytes = await read(deltaPath);
    if (deltaBytes !== undefined) {
      try {
        const d = decodeHotlistFile(deltaBytes);
        if (d.kind !== 1) throw new TerminalError('TERM_ERR_HOTLIST_CORRUPT', 'overlay file holds a base', { field: 'magic' });
        if (d.baseVersion !== initial.version) options.onWarning?.('overlay-stale', `overlay on ${d.baseVersion}, base ${initial.version}`);
        else {
          const b = initial.base;
          const adds = new Set<number>();
          const removes = new Set<number>();
          for (const v of d.first) if (!baseHas(b, v)) adds.add(v);
          for (const v of d.second) if (baseHas(b, v)) removes.add(v);
          initial = { version: d.version, baseVersion: initial.version, base: b, adds, removes, extras: new Set(d.extras) };
        }
      } catch (err) {
        if (!(err instanceof TerminalError) || err.code !== 'TERM_ERR_HOTLIST_CORRUPT') throw err;
        options.onWarning?.('overlay-corrupt', err.message);
      }
    }
  }
  const persist = async (s: HotlistSnapshot, kind: 'base' | 'overlay'): Promise<void> => {
    if (kind === 'base') {
      await writeAtomically(basePath, encodeHotlistBase(s));
      await unlink(deltaPath).catch(() => undefined);
    } else {
      await writeAtomically(deltaPath, encodeHotlistOverlay(s));
    }
  };
  const h = new CompactHotlist({ persist, ...(options.mergeThreshold === undefined ? {} : { mergeThreshold: options.mergeThreshold }) }, initial) as PersistentHotlist;
  Object.defineProperty(h, 'dir', { value: dir, enumerable: true });
  return h;
}

/** Write to a temporary file, fsync, rename over `path`, fsync the directory. @throws TerminalError `TERM_ERR_HOTLIST_FILE` */
async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  try {
    await writeFileAtomic(path, bytes, 0o600);
  } catch (err) {
    throw new TerminalError('TERM_ERR_HOTLIST_FILE', `cannot write ${path}`, { field: 'file' }, { cause: err });
  }
}
