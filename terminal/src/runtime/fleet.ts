/**
 * The runtime's side of the fleet (docs/fleet-protocol.md): what a fleet configuration document
 * means for this terminal (readers, card and PSAM positions, services, API gates, agent timers,
 * hotlist staleness, outbox limit, log level), the last good document kept on disk (`config/last-good.json`, written atomically). Loaded by the
 * runtime only when the configuration has a `fleet` section (it pulls in the schema compiler).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { validateTerminalConfig, type ConfigFieldEffectMessage, type TerminalConfigDocument } from '@onecard/protocol/fleet';
import { TerminalError } from '../errors.ts';
import { writeFileAtomic } from '../fs/atomic.ts';
import type { ReaderConfig } from '../card/index.ts';
import type { ServiceFlags } from './journaled-services.ts';
import type { ConfigPointerValue } from '../agent/fleet-http.ts';

/** What a fleet document sets on this terminal (how each field takes effect: `config-apply.ts`). */
export interface AppliedSettings {
  readonly readers: readonly ReaderConfig[];
  /** Undefined when the document names no readers (a terminal whose local file pins them). */
  readonly card: { readonly reader: string; readonly slot: number } | undefined;
  readonly psam: { readonly reader: string; readonly slot: number } | undefined;
  readonly services: ServiceFlags;
  /** e-card QR verification (local API and scanners). */
  readonly ecardQr: boolean;
  /** `format: ireadcardbas` card reads. */
  readonly hisCompat: boolean;
  /** Browser origins added to the local file's. */
  readonly allowedOrigins: readonly string[];
  readonly logLevel: 'error' | 'warn' | 'info' | 'debug';
  readonly upload: { readonly intervalSeconds: number; readonly batchSize: number; readonly maxOutboxRecords: number };
  readonly telemetryIntervalSeconds: number;
  readonly hotlist: { readonly refreshIntervalSeconds: number; readonly maxStaleSeconds: number };
}

/**
 * Maps a validated fleet document onto this terminal's settings (the schema check has already
 * refused unknown reader models, ambiguous roles and PSAM roles without a slot). A document
 * without readers gives none (whether the terminal can run without them is the apply's question:
 * yes when its local file pins readers).
 * @throws TerminalError `TERM_ERR_CONFIG_APPLY` (details.field) when readers are named but none
 *   holds the user card
 */
export function settingsFromDocument(doc: TerminalConfigDocument): AppliedSettings {
  const fail = (field: string, why: string): never => { throw new TerminalError('TERM_ERR_CONFIG_APPLY', `${field}: ${why}`, { field }); };
  const readers = doc.readers.map((r): ReaderConfig => ({ id: r.id, link: r.link, path: r.path, model: r.model, ...(r.psamSlot === null ? {} : { psamSlot: r.psamSlot }) }));
  const user = doc.readers.find((r) => r.role === 'user' || r.role === 'both');
  if (user === undefined && readers.length > 0) fail('/readers', 'no reader with role user or both');
  const psamReader = doc.readers.find((r) => (r.role === 'psam' || r.role === 'both') && r.psamSlot !== null);
  return {
    readers,
    card: user === undefined ? undefined : { reader: user.id, slot: 0 },
    psam: psamReader === undefined ? undefined : { reader: psamReader.id, slot: psamReader.psamSlot! },
    services: { identity: doc.services.identity, pin: doc.services.pin, transit: doc.services.transit },
    ecardQr: doc.services.ecardQr,
    hisCompat: doc.api.hisCompat,
    allowedOrigins: doc.api.allowedOrigins,
    logLevel: doc.logLevel,
    upload: { intervalSeconds: doc.upload.intervalSeconds, batchSize: doc.upload.batchSize, maxOutboxRecords: doc.upload.maxOutboxRecords },
    telemetryIntervalSeconds: doc.telemetry.intervalSeconds,
    hotlist: { refreshIntervalSeconds: doc.hotlist.refreshIntervalSeconds, maxStaleSeconds: doc.hotlist.maxStaleSeconds },
  };
}

/** The last good fleet configuration on disk. */
export interface LastGoodConfig {
  readonly pointer: ConfigPointerValue;
  readonly document: TerminalConfigDocument;
  /** What the apply of this document changed; entries without `at` wait for a restart. */
  readonly changes?: readonly ConfigFieldEffectMessage[];
}

export const LAST_GOOD_FILE = join('config', 'last-good.json');

/**
 * Reads `dataDir/config/last-good.json`; `undefined` when missing or invalid (then `onInvalid`
 * is told; the terminal starts with its local configuration and the agent fetches the current one).
 */
export async function loadLastGoodConfig(dataDir: string, onInvalid?: (why: string) => void): Promise<LastGoodConfig | undefined> {
  let text: string;
  try { text = await readFile(join(dataDir, LAST_GOOD_FILE), 'utf8'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') onInvalid?.(`unreadable: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    return undefined;
  }
  try {
    const o = JSON.parse(text) as { pointer?: { version?: unknown; sha256?: unknown }; document?: unknown };
    const p = o.pointer;
    if (p === undefined || !Number.isSafeInteger(p.version) || typeof p.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(p.sha256)) throw new Error('bad pointer');
    const document = validateTerminalConfig(o.document);
    settingsFromDocument(document);
    const changes = (o as { changes?: unknown }).changes;
    const ok = Array.isArray(changes) && changes.length <= 64 && changes.every((c) => {
      const e = c as Partial<ConfigFieldEffectMessage>;
      return typeof e.field === 'string' && ['live', 'session-end', 'restart', 'pinned'].includes(e.effect as string) && (e.at === undefined || Number.isSafeInteger(e.at));
    });
    return { pointer: { version: p.version as number, sha256: p.sha256 }, document, ...(ok ? { changes: changes as ConfigFieldEffectMessage[] } : {}) };
  } catch (e) {
    onInvalid?.((e as { code?: string }).code ?? 'invalid');
    return undefined;
  }
}

/** Writes the last good configuration atomically (temporary file, fsync, rename, directory fsync). */
export async function saveLastGoodConfig(dataDir: string, value: LastGoodConfig): Promise<void> {
  const path = join(dataDir, LAST_GOOD_FILE);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  try {
    await writeFileAtomic(path, `${JSON.stringify(value)}\n`, 0o600);
  } catch (cause) {
    throw new TerminalError('TERM_ERR_CONFIG_APPLY', 'cannot keep the configuration on disk', { field: 'file' }, { cause });
  }
}

