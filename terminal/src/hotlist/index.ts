/**
 * The card hotlist (黑名单) checked on every card use [P7 §5.4; architecture "hotlist"]: a
 * versioned set of card numbers (and/or card IDs). `createMemoryHotlist` holds one in memory;
 * `openFileHotlist` loads it from a local JSON file `{"version": N, "cards": [...]}` and replaces it
 * atomically (write to a temporary file, fsync, rename, fsync the directory) with a strictly newer
 * version. The fleet agent later feeds the same interface from the server.
 */
import { readFile } from 'node:fs/promises';
import { TerminalError } from '../errors.ts';
import { writeFileAtomic } from '../fs/atomic.ts';

/** A versioned hotlist. */
export interface Hotlist {
  /** Version of the loaded list (0 = empty, never loaded). */
  readonly version: number;
  /** Whether a card number (or card ID) is listed; case-insensitive. */
  has(cardNumber: string): boolean;
}

/** A hotlist whose content can be replaced by a newer version. */
export interface MutableHotlist extends Hotlist {
  /** Number of listed entries. */
  readonly size: number;
  /**
   * Replaces the list with `cards` at `version`.
   * @throws TerminalError `TERM_ERR_HOTLIST_VERSION` unless `version` is newer, `TERM_ERR_HOTLIST_FILE`
   *   on an invalid entry (file implementation: also on I/O failure; the old list stays).
   */
  replace(version: number, cards: readonly string[]): Promise<void>;
}

const ENTRY = /^[\x21-\x7e]{1,64}$/;

function normalise(cards: readonly unknown[]): Set<string> {
  const set = new Set<string>();
  cards.forEach((c, i) => {
    if (typeof c !== 'string' || !ENTRY.test(c)) throw new TerminalError('TERM_ERR_HOTLIST_FILE', `entry ${i} is not a card number`, { field: 'cards', index: i });
    set.add(c.toUpperCase());
  });
  return set;
}

function checkVersion(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new TerminalError('TERM_ERR_HOTLIST_FILE', 'version must be a non-negative integer', { field: 'version' });
  return v;
}

/**
 * An in-memory hotlist.
 * @throws TerminalError `TERM_ERR_HOTLIST_FILE` on a bad version or entry.
 */
export function createMemoryHotlist(version = 0, cards: readonly string[] = []): MutableHotlist {
  let v = checkVersion(version);
  let set = normalise(cards);
  return {
    get version() { return v; },
    get size() { return set.size; },
    has: (n) => set.has(n.toUpperCase()),
    async replace(next, list) {
      checkVersion(next);
      if (next <= v) throw new TerminalError('TERM_ERR_HOTLIST_VERSION', `${next} <= ${v}`, { version: next, current: v });
      set = normalise(list);
      v = next;
    },
  };
}

/**
 * Parses hotlist file text `{"version": N, "cards": ["X00000019", ...]}`.
 * @throws TerminalError `TERM_ERR_HOTLIST_FILE` (details.field) on invalid JSON or content.
 */
export function parseHotlistFile(text: string): { version: number; cards: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TerminalError('TERM_ERR_HOTLIST_FILE', 'not JSON', { field: 'file' }, { cause: err });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new TerminalError('TERM_ERR_HOTLIST_FILE', 'expected an object', { field: 'file' });
  const o = json as Record<string, unknown>;
  const version = checkVersion(o['version']);
  const cards = o['cards'];
  if (!Array.isArray(cards)) throw new TerminalError('TERM_ERR_HOTLIST_FILE', 'cards must be an array', { field: 'cards' });
  normalise(cards);
  return { version, cards: cards as string[] };
}

/** A hotlist backed by a local file. */
export interface FileHotlist extends MutableHotlist {
  readonly path: string;
  /** Re-reads the file; a file with an older or equal version is ignored. Throws as {@link openFileHotlist}. */
  reload(): Promise<void>;
}

/**
 * Opens the hotlist file at `path`; a missing file gives an empty list at version 0 (it is created
 * by the first `replace`).
 * @throws TerminalError `TERM_ERR_HOTLIST_FILE` when the file is unreadable or invalid.
 */
export async function openFileHotlist(path: string): Promise<FileHotlist> {
  const mem = createMemoryHotlist();
  const load = async (): Promise<void> => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new TerminalError('TERM_ERR_HOTLIST_FILE', 'cannot read', { field: 'file' }, { cause: err });
    }
    const f = parseHotlistFile(text);
    if (f.version > mem.version) await mem.replace(f.version, f.cards);
  };
  await load();
  return {
    path,
    get version() { return mem.version; },
    get size() { return mem.size; },
    has: (n) => mem.has(n),
    reload: load,
    async replace(version, cards) {
      checkVersion(version);
      if (version <= mem.version) throw new TerminalError('TERM_ERR_HOTLIST_VERSION', `${version} <= ${mem.version}`, { version, current: mem.version });
      normalise(cards);
      await writeAtomically(path, `${JSON.stringify({ version, cards })}\n`);
      await mem.replace(version, cards);
    },
  };
}

/** Durable replace of `path` (fs/atomic.ts: temp file, fsync, rename, directory fsync), mode 0600. */
async function writeAtomically(path: string, text: string): Promise<void> {
  try {
    await writeFileAtomic(path, text, 0o600);
  } catch (err) {
    throw new TerminalError('TERM_ERR_HOTLIST_FILE', 'cannot write', { field: 'file' }, { cause: err });
  }
}

export * from './compact.ts';
