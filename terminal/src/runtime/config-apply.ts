/**
 * How a fleet configuration takes effect on this terminal, field by field, following the one
 * classification table of the protocol (`CONFIG_FIELD_APPLY`, `@onecard/protocol/fleet`):
 * `live` fields are switched at once (services, e-card QR, iReadCardBas, log level, agent timers,
 * hotlist staleness), `session-end` fields once the card session in progress has ended (readers),
 * `restart` fields by restarting the runtime between card sessions (outbox limit, API origins).
 * {@link FleetConfigApplier.apply} returns, per changed field, what took effect and when; the
 * agent reports it on `up/config/status`. The effects that need hooks into other parts (the
 * e-card verifier, the card services, the local API) are small wrappers here, composed by the
 * runtime.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import {
  CONFIG_FIELD_APPLY, changedConfigFields, configFieldValue,
  type ConfigField, type ConfigFieldEffectMessage, type TerminalConfigDocument,
} from '@onecard/protocol/fleet';
import { TerminalError } from '../errors.ts';
import { writeFileAtomic } from '../fs/atomic.ts';
import type { LocalApiServices } from '../api/index.ts';
import type { EcardVerifier } from '../ecard/index.ts';
import type { ConfigPointerValue } from '../agent/fleet-http.ts';
import { DEFAULT_OUTBOX_LIMITS } from '../agent/outbox-types.ts';
import { settingsFromDocument, type AppliedSettings, type LastGoodConfig } from './fleet.ts';

/** The values of the restart-class fields a runtime started with. */
export interface RestartValues {
  readonly allowedOrigins: readonly string[];
  readonly maxOutboxRecords: number;
}

/** What a runtime starts with for the restart-class fields: the document's, or the defaults without one. */
export function restartValues(doc: TerminalConfigDocument | undefined): RestartValues {
  return doc === undefined
    ? { allowedOrigins: [], maxOutboxRecords: DEFAULT_OUTBOX_LIMITS.maxRecords }
    : { allowedOrigins: doc.api.allowedOrigins, maxOutboxRecords: doc.upload.maxOutboxRecords };
}

const RUNNING_VALUE: Partial<Record<ConfigField, (r: RestartValues) => unknown>> = {
  '/api/allowedOrigins': (r) => r.allowedOrigins,
  '/upload/maxOutboxRecords': (r) => r.maxOutboxRecords,
};

/** What the applier needs from the runtime. */
export interface ConfigApplyHooks {
  readonly logger: Logger;
  readonly clock: () => number;
  /** Fields the local file fixes (the fleet value is not used), e.g. `/readers`. */
  readonly pinned: ReadonlySet<string>;
  /**
   * Switches the live settings (services, gates, log level, agent timers); `undefined` means back
   * to the local file's. Must not throw.
   */
  readonly setLive: (next: AppliedSettings | undefined) => void;
  /**
   * Re-opens the readers once the card session in progress has ended; on failure the previous
   * readers are back and it throws.
   */
  readonly swapReaders: (next: AppliedSettings) => Promise<void>;
  /** Keeps the document on disk as the last good one. */
  readonly save: (value: LastGoodConfig) => Promise<void>;
  /**
   * Restarts the runtime between card sessions (it then starts from the saved document);
   * `undefined` when nothing can restart this runtime (its restart-class changes stay pending).
   */
  readonly requestRestart: ((why: string) => void) | undefined;
}

/**
 * The fleet configuration in effect and its apply. Applies run one at a time (the caller chains
 * them); a failure leaves the previous settings in effect.
 */
export class FleetConfigApplier {
  readonly #h: ConfigApplyHooks;
  readonly #running: RestartValues;
  #doc: TerminalConfigDocument | undefined;
  #settings: AppliedSettings | undefined;
  #restartRequested = false;

  /**
   * @param lastGood the document this runtime started from (its restart-class values are the
   *   running ones), or `undefined`
   */
  constructor(lastGood: TerminalConfigDocument | undefined, hooks: ConfigApplyHooks) {
    this.#h = hooks;
    this.#doc = lastGood;
    this.#settings = lastGood === undefined ? undefined : settingsFromDocument(lastGood);
    this.#running = restartValues(lastGood);
  }

  /** The document in effect (undefined before the first one). */
  get document(): TerminalConfigDocument | undefined { return this.#doc; }
  /** Its settings. */
  get settings(): AppliedSettings | undefined { return this.#settings; }
  /** Restart-class values this runtime runs with. */
  get running(): RestartValues { return this.#running; }

  /**
   * Applies `doc`: live fields at once, then the readers after the session in progress, then keeps
   * it on disk, then asks for a restart when a restart-class field differs from what runs.
   * Resolves with the effect of each changed field (`at` absent while a restart is pending).
   * @throws TerminalError `TERM_ERR_CONFIG_APPLY` (cannot run here, e.g. no readers while the
   *   local file pins none; the previous settings stay), or the reader manager's open error
   */
  async apply(doc: TerminalConfigDocument, pointer: ConfigPointerValue): Promise<ConfigFieldEffectMessage[]> {
    const h = this.#h;
    const next = settingsFromDocument(doc);
    if (next.readers.length === 0 && !h.pinned.has('/readers')) {
      throw new TerminalError('TERM_ERR_CONFIG_APPLY', '/readers: no readers, and the local file pins none', { field: '/readers' });
    }
    const previous = this.#settings;
    const changed = changedConfigFields(this.#doc, doc);
    const effects: ConfigFieldEffectMessage[] = [];
    const restartFor: string[] = [];

    const live = changed.filter((c) => c.class === 'live' && !h.pinned.has(c.field));
    if (live.length > 0) h.setLive(next);
    const liveAt = h.clock();
    const readers = changed.find((c) => c.field === '/readers');
    if (readers !== undefined && !h.pinned.has('/readers')) {
      try {
        await h.swapReaders(next);
      } catch (err) {
        if (live.length > 0) h.setLive(previous);
        throw err instanceof TerminalError ? err : new TerminalError('TERM_ERR_CONFIG_APPLY', '/readers: cannot open the readers', { field: '/readers' }, { cause: err });
      }
    }
    const sessionEndAt = h.clock();
    for (const c of changed) {
      if (h.pinned.has(c.field)) { effects.push({ field: c.field, effect: 'pinned' }); continue; }
      if (c.class === 'live') effects.push({ field: c.field, effect: 'live', at: liveAt });
      else if (c.class === 'session-end') effects.push({ field: c.field, effect: 'session-end', at: sessionEndAt });
      else {
        const running = RUNNING_VALUE[c.field]?.(this.#running);
        if (JSON.stringify(running) === JSON.stringify(configFieldValue(doc, c.field))) effects.push({ field: c.field, effect: 'restart', at: sessionEndAt });
        else { effects.push({ field: c.field, effect: 'restart' }); restartFor.push(c.field); }
      }
    }
    await h.save({ pointer, document: doc, changes: effects });
    this.#doc = doc;
    this.#settings = next;
    h.logger.info({ version: pointer.version, name: doc.name, changes: effects.map((e) => `${e.field}:${e.effect}${e.at === undefined ? ' (pending)' : ''}`) }, 'fleet configuration applied');
    if (restartFor.length > 0) {
      if (h.requestRestart === undefined) {
        h.logger.warn({ version: pointer.version, fields: restartFor }, 'fleet configuration: restart needed, but this runtime cannot restart itself');
      } else if (!this.#restartRequested) {
        this.#restartRequested = true;
        h.logger.info({ version: pointer.version, fields: restartFor }, 'fleet configuration: restarting the runtime between card sessions');
        h.requestRestart(`fleet configuration ${pointer.version}: ${restartFor.join(', ')}`);
      }
    }
    return effects;
  }
}

/**
 * At start from a last good document whose restart-class effects were pending: they are done now
 * (this runtime runs with the document's values). Returns the status to report again, or
 * `undefined` when nothing was pending.
 */
export function completePendingRestart(lastGood: LastGoodConfig, at: number): { readonly version: number; readonly changes: ConfigFieldEffectMessage[] } | undefined {
  const changes = lastGood.changes;
  if (changes === undefined || !changes.some((c) => c.at === undefined && c.effect === 'restart')) return undefined;
  return { version: lastGood.pointer.version, changes: changes.map((c) => (c.at === undefined && c.effect === 'restart' ? { ...c, at } : c)) };
}

/** The classification of a field (for logs and docs). */
export const fieldApply = (field: ConfigField): (typeof CONFIG_FIELD_APPLY)[ConfigField] => CONFIG_FIELD_APPLY[field];

// ── effects on other parts ──────────────────────────────────────────────────────────────────

/**
 * When the hotlist was last confirmed current (a successful check against the server, changed or
 * not), kept in `config/hotlist-checked.json` so that a restart does not make an old list fresh.
 */
export class HotlistFreshness {
  readonly #file: string;
  #checkedAt: number | undefined;
  #writing: Promise<void> = Promise.resolve();

  private constructor(file: string, checkedAt: number | undefined) {
    this.#file = file;
    this.#checkedAt = checkedAt;
  }

  static async open(dataDir: string): Promise<HotlistFreshness> {
    const file = join(dataDir, 'config', 'hotlist-checked.json');
    let at: number | undefined;
    try {
      const v = (JSON.parse(await readFile(file, 'utf8')) as { checkedAt?: unknown }).checkedAt;
      if (Number.isSafeInteger(v) && (v as number) >= 0) at = v as number;
    } catch { /* missing or unreadable: never confirmed */ }
    return new HotlistFreshness(file, at);
  }

  get checkedAt(): number | undefined { return this.#checkedAt; }

  /** Records a confirmation at `at` (written in the background; the newest write wins). */
  mark(at: number): Promise<void> {
    this.#checkedAt = at;
    this.#writing = this.#writing.then(async () => {
      await mkdir(dirname(this.#file), { recursive: true, mode: 0o700 });
      await writeFileAtomic(this.#file, `${JSON.stringify({ checkedAt: this.#checkedAt })}\n`, 0o600);
    }).catch(() => undefined);
    return this.#writing;
  }
}

/**
 * The card services with the hotlist staleness rule: while a staleness limit is configured and
 * the hotlist was last confirmed current longer ago (or never), a transit purchase is refused
 * before the card is touched.
 * @throws TerminalError `TERM_ERR_HOTLIST_STALE` (from `purchase`)
 */
export function staleHotlistGuard(base: LocalApiServices, o: { readonly maxStaleSeconds: () => number | undefined; readonly checkedAt: () => number | undefined; readonly now: () => number }): LocalApiServices {
  return {
    ...base,
    purchase: ((...args: Parameters<LocalApiServices['purchase']>) => {
      const max = o.maxStaleSeconds();
      if (max !== undefined) {
        const at = o.checkedAt();
        const age = at === undefined ? undefined : Math.floor((o.now() - at) / 1000);
        if (age === undefined || age > max) {
          return Promise.reject(new TerminalError('TERM_ERR_HOTLIST_STALE', age === undefined ? 'hotlist never confirmed current' : `hotlist confirmed ${age} s ago (limit ${max} s)`, { field: 'hotlist.maxStaleSeconds' }));
        }
      }
      return base.purchase(...args);
    }) as LocalApiServices['purchase'],
  };
}

/**
 * An e-card verifier that refuses while the `ecardQr` service is off (the local API and the
 * scanners use the same verifier).
 * @throws TerminalError `TERM_ERR_SERVICE_DISABLED` (from `verify`)
 */
export function switchableEcardVerifier(v: EcardVerifier, enabled: () => boolean): EcardVerifier {
  return {
    verify: (code) => (enabled() ? v.verify(code) : Promise.reject(new TerminalError('TERM_ERR_SERVICE_DISABLED', 'ecardQr', { field: 'ecardQr' }))),
    replayCacheSize: () => v.replayCacheSize(),
  };
}

/**
 * Adds the configuration's gates to a local API that is not listening yet: a card read with
 * `format: ireadcardbas` is refused while `hisCompat` is off.
 */
export function addApiGates(api: FastifyInstance, o: { readonly hisCompat: () => boolean }): void {
  api.addHook('preHandler', async (req) => {
    if (req.method !== 'POST' || req.routeOptions.url !== '/v1/card/read') return;
    const format = (req.body as { format?: unknown } | undefined)?.format;
    if (format === 'ireadcardbas' && !o.hisCompat()) throw new TerminalError('TERM_ERR_SERVICE_DISABLED', 'hisCompat', { field: 'hisCompat' });
  });
}

/** Agent batch size and timer periods of a document's settings (agent defaults without one). */
export interface AgentTuning { readonly batchSize: number; readonly flushIntervalMs: number; readonly telemetryIntervalMs: number; readonly hotlistRefreshMs: number }

/**
 * The agent tuning for `s`, leaving out what the runtime's caller fixed (`fixed`: tests and the
 * demo pass faster timers, which a configuration does not override).
 */
export function agentTuning(s: AppliedSettings | undefined, fixed: object = {}): Partial<AgentTuning> {
  const all: AgentTuning = s === undefined
    ? { batchSize: 100, flushIntervalMs: 1000, telemetryIntervalMs: 60_000, hotlistRefreshMs: 15 * 60_000 }
    : { batchSize: s.upload.batchSize, flushIntervalMs: s.upload.intervalSeconds * 1000, telemetryIntervalMs: s.telemetryIntervalSeconds * 1000, hotlistRefreshMs: s.hotlist.refreshIntervalSeconds * 1000 };
  return Object.fromEntries(Object.entries(all).filter(([k]) => !(k in fixed)));
}
