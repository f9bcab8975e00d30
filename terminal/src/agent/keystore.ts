/**
 * The transit keystore. Key sets arrive as TR-31 version `D` key blocks wrapped under the
 * terminal's KBPK (`kbpk.ts`); loading checks every block's MAC and KCV (the `KC` block when
 * present and the KCV the server announced), then stores the blocks themselves — the key block
 * is the wrapped-at-rest form — in `keys.json` (0600, atomic replace). Clear keys exist only in
 * memory, unwrapped at each use and never cached or logged.
 *
 * Soft-SAM bound (docs/keys.md "Custody"): these are purse roots at the dispersion level — they
 * derive every card's purchase and TAC keys of the issuer — so a key set is held only until the
 * `expiresAt` the server delivered with it (the key custodian's approval of this terminal). At that
 * time the keystore erases `keys.json` and forgets the blocks: on a timer, on the next access and
 * at open; {@link Keystore.purseKeys} then fails with `TERM_ERR_KEY_EXPIRED`. A renewal by the
 * custodian re-delivers the set with a later expiry; a revocation simply lets it run out.
 *
 * OneCard key-block convention for purse keys [ONECARD key-blocks §3]:
 * - key usage `61` = purse purchase root (MPK, or the issuer-level key; MAC1/MAC2),
 *   `62` = purse TAC root (MTK) — proprietary numeric usages;
 * - algorithm `T` (3DES, 16 bytes), mode of use `X` (key derivation), exportability `N`;
 * - key version number = the card's key version byte from INITIALIZE FOR PURCHASE, 2 hex digits;
 * - optional block `LB` = `ALG=hh;LV=n`: the algorithm identifier byte from INITIALIZE FOR
 *   PURCHASE and the dispersion levels of the root (2: root → issuer factor → card serial;
 *   1: issuer-level key → card serial).
 */
import { promises as fsp, rmSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '@onecard/protocol/bytes';
import { keyCheckValue, unwrapKeyBlock, type CardKey } from '@onecard/protocol/crypto';
import { isProtocolError } from '@onecard/protocol/errors';
import { TerminalError } from '../errors.ts';
import { ensurePrivateDir, writeFileAtomic } from './secure-files.ts';

export const KEYS_FILE = 'keys.json';
export const PURSE_USAGE = { purchase: '61', tac: '62' } as const;
export type PurseKeyRole = keyof typeof PURSE_USAGE;

/** One delivered key: the block and (optionally) the KCV the server expects. */
export interface KeyLoadEntry {
  readonly block: string;
  /** Hex KCV announced by the server (legacy 3-byte for 3DES); checked when present. */
  readonly kcv?: string;
}

/** What a block describes (no key material). */
export interface PurseKeyInfo {
  readonly role: PurseKeyRole;
  readonly keyVersion: number;
  readonly algorithmId: number;
  readonly levels: 1 | 2;
  /** KCV the terminal computed from the unwrapped key, uppercase hex (3 bytes). */
  readonly kcv: string;
}

/** Keys for one card key version, unwrapped for one use. */
export interface PurseKeys {
  readonly purchase: { readonly root: CardKey; readonly levels: 1 | 2 };
  readonly tac: { readonly root: CardKey; readonly levels: 1 | 2 } | undefined;
}

function parseLabel(block: ReturnType<typeof unwrapKeyBlock>): { algorithmId: number; levels: 1 | 2 } {
  const lb = block.optionalBlocks.find((b) => b.id === 'LB')?.data ?? '';
  const m = /^ALG=([0-9A-F]{2});LV=([12])$/.exec(lb);
  if (m === null) throw new TerminalError('TERM_ERR_KEY_BLOCK', 'LB must be ALG=hh;LV=n', { field: 'optionalBlock.LB' });
  return { algorithmId: Number.parseInt(m[1]!, 16), levels: Number(m[2]) as 1 | 2 };
}

function describe(kbpk: Uint8Array, blockText: string): { info: PurseKeyInfo; key: Uint8Array } {
  let u: ReturnType<typeof unwrapKeyBlock>;
  try {
    u = unwrapKeyBlock(kbpk, blockText);
  } catch (cause) {
    if (isProtocolError(cause)) {
      const code = cause.code === 'PROTO_ERR_TR31_KCV' ? 'TERM_ERR_KEY_KCV' : 'TERM_ERR_KEY_BLOCK';
      throw new TerminalError(code, cause.code, { protocolCode: cause.code }, { cause });
    }
    throw cause;
  }
  const h = u.header;
  const role = h.keyUsage === PURSE_USAGE.purchase ? 'purchase' : h.keyUsage === PURSE_USAGE.tac ? 'tac' : undefined;
  if (role === undefined) throw new TerminalError('TERM_ERR_KEY_BLOCK', `key usage ${h.keyUsage} is not a purse key`, { field: 'keyUsage' });
  if (h.algorithm !== 'T' || u.key.length !== 16) throw new TerminalError('TERM_ERR_KEY_BLOCK', 'purse keys are 16-byte 3DES (algorithm T)', { field: 'algorithm' });
  if (h.modeOfUse !== 'X') throw new TerminalError('TERM_ERR_KEY_BLOCK', 'purse roots have mode of use X', { field: 'modeOfUse' });
  if (!/^[0-9A-F]{2}$/.test(h.keyVersionNumber) || h.keyVersionNumber === '00') throw new TerminalError('TERM_ERR_KEY_BLOCK', 'key version number must be the card key version (hex)', { field: 'keyVersionNumber' });
  const { algorithmId, levels } = parseLabel(u);
  const kcv = toHex(keyCheckValue('3des', u.key, { method: 'legacy', length: 3 })).toUpperCase();
  return { info: { role, keyVersion: Number.parseInt(h.keyVersionNumber, 16), algorithmId, levels, kcv }, key: u.key };
}

export interface KeystoreOptions {
  /** Clock (ms since the epoch) for the expiry; default `Date.now`. */
  readonly now?: () => number;
}

export interface KeyLoadOptions {
  /** When the key set must be erased (ms since the epoch); absent = no expiry (tests, legacy files). */
  readonly expiresAt?: number;
}

/** Longest single timer (setTimeout's limit); longer expiries re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A keystore over `dir/keys.json`; obtain with {@link openKeystore}. */
export class Keystore {
  readonly #dir: string;
  readonly #kbpk: Uint8Array;
  readonly #now: () => number;
  #version: number;
  #blocks: readonly string[];
  #infos: readonly PurseKeyInfo[];
  #expiresAt: number | null;
  #timer: NodeJS.Timeout | undefined;

  /** @internal */
  constructor(dir: string, kbpk: Uint8Array, version: number, blocks: readonly string[], infos: readonly PurseKeyInfo[], expiresAt: number | null = null, options: KeystoreOptions = {}) {
    this.#dir = dir;
    this.#kbpk = kbpk.slice();
    this.#now = options.now ?? Date.now;
    this.#version = version;
    this.#blocks = blocks;
    this.#infos = infos;
    this.#expiresAt = expiresAt;
    this.#arm();
  }

  /** Version of the loaded key set (0 = none, or erased at its expiry). */
  get version(): number { this.#expire(); return this.#version; }

  /** When the loaded key set is erased (ms), or null when none is loaded or it has no expiry. */
  get expiresAt(): number | null { this.#expire(); return this.#expiresAt; }

  /** What is loaded, without key material (empty once expired). */
  list(): readonly PurseKeyInfo[] { this.#expire(); return this.#infos; }

  /** Erases the key set now if its expiry has passed; returns whether it did. */
  eraseIfExpired(): boolean { return this.#expire(); }

  #expire(): boolean {
    if (this.#expiresAt === null || this.#now() < this.#expiresAt) return false;
    this.#erase();
    return true;
  }

  /** Forgets the blocks and removes `keys.json` (synchronously: nothing can use them after this returns). */
  #erase(): void {
    try { rmSync(join(this.#dir, KEYS_FILE), { force: true }); } catch { /* the in-memory copy is gone either way; the next open erases again */ }
    this.#version = 0;
    this.#blocks = [];
    this.#infos = [];
    this.#expiresAt = null;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#expiresAt === null) return;
    const wait = Math.min(Math.max(this.#expiresAt - this.#now(), 0), MAX_TIMER_MS);
    this.#timer = setTimeout(() => { this.#timer = undefined; if (!this.#expire()) this.#arm(); }, wait);
    this.#timer.unref();
  }

  /**
   * Verifies and installs a key set as a whole (nothing changes when one block fails), persists
   * the blocks, and returns the KCVs the terminal computed, in input order.
   * With `options.expiresAt` the set is erased at that time (an expiry already past is refused).
   * @throws TerminalError `TERM_ERR_KEY_BLOCK` (MAC, format, convention), `TERM_ERR_KEY_KCV`
   *   (KC block or announced KCV differs), `TERM_ERR_INVALID_ARGUMENT`, `TERM_ERR_KEY_EXPIRED`,
   *   `TERM_ERR_KEYSTORE_IO`
   */
  async load(version: number, entries: readonly KeyLoadEntry[], options: KeyLoadOptions = {}): Promise<readonly PurseKeyInfo[]> {
    if (!Number.isSafeInteger(version) || version < 1) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', 'key set version', { field: 'version' });
    const expiresAt = options.expiresAt ?? null;
    if (expiresAt !== null && !Number.isSafeInteger(expiresAt)) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', 'expiresAt', { field: 'expiresAt' });
    if (expiresAt !== null && expiresAt <= this.#now()) throw new TerminalError('TERM_ERR_KEY_EXPIRED', 'the key set arrived already expired', { expiresAt });
    if (entries.length === 0 || entries.length > 64) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', '1–64 key blocks', { field: 'keys' });
    const infos: PurseKeyInfo[] = [];
    const seen = new Set<string>();
    for (const [i, e] of entries.entries()) {
      const { info, key } = describe(this.#kbpk, e.block);
      key.fill(0);
      if (e.kcv !== undefined && e.kcv.toUpperCase() !== info.kcv) throw new TerminalError('TERM_ERR_KEY_KCV', `block ${i}`, { index: i, computed: info.kcv });
      const slot = `${info.role}/${info.keyVersion}/${info.algorithmId}`;
      if (seen.has(slot)) throw new TerminalError('TERM_ERR_KEY_BLOCK', `duplicate ${slot}`, { index: i });
      seen.add(slot);
      infos.push(info);
    }
    if (!infos.some((k) => k.role === 'purchase')) throw new TerminalError('TERM_ERR_KEY_BLOCK', 'a key set needs a purchase key', { field: 'keys' });
    const blocks = entries.map((e) => e.block);
    try {
      await ensurePrivateDir(this.#dir);
      await writeFileAtomic(join(this.#dir, KEYS_FILE), JSON.stringify({ v: 1, version, blocks, ...(expiresAt !== null ? { expiresAt } : {}) }) + '\n', 0o600);
    } catch (cause) {
      throw new TerminalError('TERM_ERR_KEYSTORE_IO', 'write keys.json', {}, { cause });
    }
    this.#version = version;
    this.#blocks = blocks;
    this.#infos = infos;
    this.#expiresAt = expiresAt;
    this.#arm();
    return infos;
  }

  /**
   * Unwraps (in memory, for this use only) the keys for the card key version and algorithm
   * identifier reported by INITIALIZE FOR PURCHASE.
   * @throws TerminalError `TERM_ERR_KEY_EXPIRED` (erased at its expiry), `TERM_ERR_KEY_NOT_FOUND`, `TERM_ERR_KEY_BLOCK`
   */
  purseKeys(keyVersion: number, algorithmId: number): PurseKeys {
    if (this.#expire()) throw new TerminalError('TERM_ERR_KEY_EXPIRED', 'the soft-SAM key set expired and was erased', { keyVersion, algorithmId });
    let purchase: PurseKeys['purchase'] | undefined;
    let tac: PurseKeys['tac'];
    this.#infos.forEach((info, i) => {
      if (info.keyVersion !== keyVersion || info.algorithmId !== algorithmId) return;
      const { key } = describe(this.#kbpk, this.#blocks[i]!);
      const entry = { root: { algorithm: '3des', key } as CardKey, levels: info.levels };
      if (info.role === 'purchase') purchase = entry; else tac = entry;
    });
    if (purchase === undefined) throw new TerminalError('TERM_ERR_KEY_NOT_FOUND', `key version ${keyVersion} algorithm ${algorithmId}`, { keyVersion, algorithmId });
    return { purchase, tac };
  }

  /** Forgets the KBPK copy held by this object and stops the expiry timer. */
  close(): void {
    this.#kbpk.fill(0);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * Opens the keystore in `dir` with the terminal's KBPK, re-verifying every stored block (a file
 * that fails verification is reported, not silently used). A key set past its expiry is erased
 * here, before anything can use it.
 * @throws TerminalError `TERM_ERR_KEYSTORE_IO`, `TERM_ERR_KEY_BLOCK`, `TERM_ERR_KEY_KCV`
 */
export async function openKeystore(dir: string, kbpk: Uint8Array, options: KeystoreOptions = {}): Promise<Keystore> {
  let text: string | undefined;
  try { text = await fsp.readFile(join(dir, KEYS_FILE), 'utf8'); } catch (e) {
    if ((e as { code?: string }).code !== 'ENOENT') throw new TerminalError('TERM_ERR_KEYSTORE_IO', 'read keys.json', {}, { cause: e });
  }
  if (text === undefined) return new Keystore(dir, kbpk, 0, [], [], null, options);
  let doc: { v?: unknown; version?: unknown; blocks?: unknown; expiresAt?: unknown };
  try { doc = JSON.parse(text) as typeof doc; } catch (cause) { throw new TerminalError('TERM_ERR_KEYSTORE_IO', 'keys.json is not JSON', {}, { cause }); }
  if (doc.v !== 1 || !Number.isSafeInteger(doc.version) || !Array.isArray(doc.blocks) || !doc.blocks.every((b) => typeof b === 'string')) {
    throw new TerminalError('TERM_ERR_KEYSTORE_IO', 'keys.json fields');
  }
  if (doc.expiresAt !== undefined && !Number.isSafeInteger(doc.expiresAt)) throw new TerminalError('TERM_ERR_KEYSTORE_IO', 'keys.json expiresAt');
  const expiresAt = (doc.expiresAt as number | undefined) ?? null;
  if (expiresAt !== null && expiresAt <= (options.now ?? Date.now)()) {
    const ks = new Keystore(dir, kbpk, doc.version as number, [], [], expiresAt, options);
    ks.eraseIfExpired();
    return ks;
  }
  const blocks = doc.blocks as string[];
  const infos = blocks.map((b) => { const d = describe(kbpk, b); d.key.fill(0); return d.info; });
  return new Keystore(dir, kbpk, doc.version as number, blocks, infos, expiresAt, options);
}
