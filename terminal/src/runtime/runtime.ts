/**
 * Composition of `onecard-terminal run`: reader manager (behind a {@link CardGate} so that readers
 * can be swapped between card sessions), hotlist, purchase journal, logger, e-card verifier and
 * scanners, the local API listening on the configured address, and — with a `fleet` section —
 * the fleet agent: outbox fed by the card services, hotlist deltas into the compact hotlist the
 * services check, and fleet configuration applied atomically (last good one kept on disk). Only
 * this file and the CLI open devices and bind ports; everything is injected for tests, and
 * {@link startRuntime} can run in-process (no signal handlers, everything closed by `close()`).
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { fromHex } from '@onecard/protocol/bytes';
import { TerminalError } from '../errors.ts';
import { openReaderManager, type ReaderConfig, type ReaderManager } from '../card/index.ts';
import { nodeHidOpener, type HidOpener, type TransportFactory } from '../link/index.ts';
import { join } from 'node:path';
import type { TerminalConfigDocument } from '@onecard/protocol/fleet';
import { openFileHotlist, openFileJournal, type Hotlist, type PurchaseJournal } from '../services/index.ts';
import type { CompactHotlist } from '../hotlist/index.ts';
import type { FleetAgent, FleetAgentOptions, ReaderStatus as FleetReaderStatus } from '../agent/fleet-agent.ts';
import type { Outbox } from '../agent/outbox-types.ts';
import type { ConfigPointerValue } from '../agent/fleet-http.ts';
import { CardGate, type CardSetup } from './card-gate.ts';
import { ALL_SERVICES, journaledServices, type ServiceFlags } from './journaled-services.ts';
import { createEcardVerifier, createHttpOnlineVerifier, type EcardVerifier } from '../ecard/index.ts';
import { buildLocalApi, readApiTls } from '../api/index.ts';
import type { FastifyInstance } from 'fastify';
import type { TerminalConfig } from './config.ts';
import { openScanners, serialportScannerOpener, type SerialScannerOpener } from './scanners.ts';

export interface RuntimeDeps {
  readonly logger: Logger;
  readonly clock?: { now(): number };
  readonly transportFactory?: TransportFactory;
  readonly hidOpener?: HidOpener;
  readonly serialScannerOpener?: SerialScannerOpener;
  /** Overrides `api.token` (e.g. from ONECARD_API_TOKEN). */
  readonly token?: string;
  /** Extra fleet agent options (tests and the demo: faster flush, backoff policy). */
  readonly fleetAgent?: Partial<Pick<FleetAgentOptions, 'policy' | 'flushIntervalMs' | 'telemetryIntervalMs' | 'batchSize' | 'fetch' | 'connect' | 'onJobNotify' | 'keysVersion'>>;
}

/** The reader layout and services in effect. */
export interface RuntimeSettings {
  readonly readers: readonly ReaderConfig[];
  readonly card: { readonly reader: string; readonly slot: number };
  readonly psam: { readonly reader: string; readonly slot: number } | undefined;
  readonly services: ServiceFlags;
}

export interface Runtime {
  /** The reader manager in effect (replaced when a fleet configuration changes the readers). */
  readonly manager: ReaderManager;
  /** The card hardware as the local API sees it. */
  readonly cards: CardGate;
  readonly api: FastifyInstance;
  /** `http://host:port` the API listens on. */
  readonly url: string;
  readonly ecard: EcardVerifier | undefined;
  /** The hotlist the card services check (compact and fleet-fed with a `fleet` section). */
  readonly hotlist: Hotlist | undefined;
  /** With a `fleet` section: the agent, its outbox and the compact hotlist. */
  readonly agent: FleetAgent | undefined;
  readonly outbox: Outbox | undefined;
  /** Settings in effect. */
  settings(): RuntimeSettings;
  /**
   * Applies a fleet configuration document (what the agent calls after fetching, hash check and
   * schema validation): readers re-opened once the card session in progress has ended, services
   * switched, log level set, the document kept on disk as the last good one.
   * @throws TerminalError `TERM_ERR_CONFIG_APPLY` (cannot run here; nothing changed)
   */
  applyFleetConfig(doc: TerminalConfigDocument, pointer: ConfigPointerValue): Promise<void>;
  close(): Promise<void>;
}

/** Builds the e-card verifier of a config (undefined without `ecard`). */
export function ecardVerifierFromConfig(cfg: TerminalConfig, clock: () => number): EcardVerifier | undefined {
  if (cfg.ecard === undefined) return undefined;
  const e = cfg.ecard;
  return createEcardVerifier({
    keys: e.keys.map((k) => ({ publicKey: fromHex(k.publicKey), ...(k.label === undefined ? {} : { label: k.label }) })),
    clock,
    ...(e.skewSeconds === undefined ? {} : { skewSeconds: e.skewSeconds }),
    ...(e.maxTtlSeconds === undefined ? {} : { maxTtlSeconds: e.maxTtlSeconds }),
    ...(e.online === undefined
      ? {}
      : { online: createHttpOnlineVerifier({ url: e.online.url, ...(e.online.timeoutMs === undefined ? {} : { timeoutMs: e.online.timeoutMs }) }), onlineMode: e.online.mode }),
  });
}

const sameLayout = (a: RuntimeSettings, b: RuntimeSettings): boolean =>
  JSON.stringify([a.readers, a.card, a.psam]) === JSON.stringify([b.readers, b.card, b.psam]);

/**
 * Starts the runtime. Rejects with `TERM_ERR_CONFIG`, `TERM_ERR_HOTLIST_FILE`, `TERM_ERR_JOURNAL_IO`,
 * `TERM_ERR_LINK_OPEN` (scanner), `TERM_ERR_IDENTITY_MISSING` / `TERM_ERR_IDENTITY_INVALID`
 * (fleet section without an enrolment), `TERM_ERR_OUTBOX_*`, `TERM_ERR_HOTLIST_FILE`, or the
 * listen error (port in use).
 */
export async function startRuntime(cfg: TerminalConfig, deps: RuntimeDeps): Promise<Runtime> {
  const logger = deps.logger.child({ terminalId: cfg.terminalId });
  const clock = deps.clock ?? { now: () => Date.now() };
  const closers: (() => Promise<void> | void)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.reverse()) {
      try { await c(); } catch (e) { logger.warn({ code: (e as { code?: unknown }).code }, 'close step failed'); }
    }
    closers.length = 0;
  };
  try {
    const fleet = cfg.fleet;
    // Fleet modules (MQTT client, schema compiler, outbox) load only for fleet members: start-up time and memory.
    const fm = fleet === undefined ? undefined : await Promise.all([
      import('../agent/identity.ts'), import('../agent/outbox.ts'), import('../hotlist/compact.ts'), import('./fleet.ts'), import('../agent/fleet-agent.ts'),
    ]).then(([identity, outbox, hot, cfgMod, agentMod]) => ({ ...identity, ...outbox, ...hot, ...cfgMod, ...agentMod }));
    const identity = fleet === undefined || fm === undefined ? undefined : await fm.loadIdentity(fleet.dataDir);
    let outbox: Outbox | undefined;
    let compact: CompactHotlist | undefined;
    let hotlist: Hotlist | undefined;
    if (fleet !== undefined && fm !== undefined) {
      const ob = await fm.openFileOutbox({ dir: join(fleet.dataDir, 'outbox'), onAlarm: (a) => logger.error({ alarm: a.kind, pending: a.pending }, 'outbox alarm') });
      outbox = ob;
      closers.push(() => ob.close());
      compact = await fm.openCompactHotlist(join(fleet.dataDir, 'hotlist'), { onCorrupt: 'reset', onWarning: (w, detail) => logger.warn({ what: w, detail }, 'hotlist file') });
      hotlist = compact;
      if (cfg.hotlist !== undefined) logger.warn({ file: cfg.hotlist.file }, 'hotlist.file ignored: the fleet hotlist is used');
    } else if (cfg.hotlist !== undefined) {
      hotlist = await openFileHotlist(cfg.hotlist.file);
    }
    const journal: PurchaseJournal | undefined = cfg.journal === undefined ? undefined : await openFileJournal(cfg.journal.file);
    const lastGood = fleet === undefined || fm === undefined ? undefined : await fm.loadLastGoodConfig(fleet.dataDir, (why) => logger.warn({ why }, 'last good configuration ignored'));
    let current: RuntimeSettings = { readers: cfg.readers, card: cfg.card, psam: cfg.psam, services: ALL_SERVICES };
    if (lastGood !== undefined && fm !== undefined) {
      const s = fm.settingsFromDocument(lastGood.document);
      current = { readers: s.readers, card: s.card, psam: s.psam, services: s.services };
      if (cfg.log.level !== 'silent') logger.level = s.logLevel;
      logger.info({ version: lastGood.pointer.version }, 'fleet configuration restored');
    }
    const openSetup = (s: RuntimeSettings): CardSetup => ({
      manager: openReaderManager({
        readers: s.readers,
        logger,
        ...(deps.transportFactory === undefined ? {} : { transportFactory: deps.transportFactory }),
        ...(deps.hidOpener === undefined ? {} : { hidOpener: deps.hidOpener }),
      }),
      user: { readerId: s.card.reader, slot: s.card.slot },
      psam: s.psam === undefined ? undefined : { readerId: s.psam.reader, slot: s.psam.slot },
    });
    const cards = new CardGate(openSetup(current));
    closers.push(() => cards.close());
    const ecard = ecardVerifierFromConfig(cfg, () => clock.now());
    const scans = new EventEmitter();
    if (ecard !== undefined && cfg.ecard !== undefined && cfg.ecard.scanners.length > 0) {
      closers.push(await openScanners(cfg.ecard.scanners, { verifier: ecard, scans, logger, hidOpener: deps.hidOpener ?? nodeHidOpener, serialOpener: deps.serialScannerOpener ?? serialportScannerOpener }));
    }
    let agent: FleetAgent | undefined;
    const services = journaledServices({ outbox, services: () => current.services, journaled: () => agent?.notifyPending(), logger, clock: () => clock.now() });
    const token = deps.token ?? cfg.api.token;
    const api = await buildLocalApi({
      readers: cards,
      services,
      logger,
      clock,
      scans,
      allowedOrigins: cfg.api.allowedOrigins,
      allowedHosts: cfg.api.allowedHosts,
      allowedClients: cfg.api.allowedClients,
      ...(cfg.api.tls === undefined ? {} : { tls: readApiTls(cfg.api.tls) }),
      ...(token === undefined ? {} : { token }),
      ...(hotlist === undefined ? {} : { hotlist }),
      ...(journal === undefined ? {} : { journal }),
      ...(ecard === undefined ? {} : { ecard }),
      ...(cfg.deviceNumber === undefined ? {} : { deviceNumber: cfg.deviceNumber }),
    });
    closers.push(() => api.close());

    let applyChain: Promise<void> = Promise.resolve();
    const applyFleetConfig = (doc: TerminalConfigDocument, pointer: ConfigPointerValue): Promise<void> => {
      const run = applyChain.then(async () => {
        if (fm === undefined) throw new TerminalError('TERM_ERR_CONFIG_APPLY', 'not a fleet member (no fleet section)', { field: 'fleet' });
        const s = fm.settingsFromDocument(doc);
        const next: RuntimeSettings = { readers: s.readers, card: s.card, psam: s.psam, services: s.services };
        if (!sameLayout(current, next)) {
          const previous = current;
          logger.info({ version: pointer.version, readers: next.readers.map((r) => r.id), sessions: cards.sessions }, 'fleet configuration: re-opening readers');
          await cards.swap(() => openSetup(next), () => openSetup(previous));
        }
        current = next;
        if (cfg.log.level !== 'silent') logger.level = s.logLevel;
        if (fleet !== undefined) await fm.saveLastGoodConfig(fleet.dataDir, { pointer, document: doc });
        logger.info({ version: pointer.version, services: s.services }, 'fleet configuration applied');
      });
      applyChain = run.catch(() => undefined);
      return run;
    };

    if (fm !== undefined && fleet !== undefined && identity !== undefined && outbox !== undefined && compact !== undefined) {
      const fleetReaders = (): FleetReaderStatus[] => cards.setup.manager.status().map((r) => ({
        id: r.readerId.slice(0, 64), link: r.link, status: r.status,
        card: r.slots.some((x) => x.role === 'user' && x.present), psam: r.slots.some((x) => x.role === 'psam' && x.present),
      }));
      const a = new fm.FleetAgent({
        terminalId: identity.terminalId,
        serverUrl: identity.serverUrl,
        mqtt: identity.mqtt,
        outbox,
        softwareVersion: fleet.softwareVersion ?? '0.1.0',
        kind: identity.kind,
        hotlist: compact,
        readers: fleetReaders,
        applyConfig: applyFleetConfig,
        logger,
        ...(lastGood === undefined ? {} : {
          currentConfig: lastGood.pointer,
          batchSize: lastGood.document.upload.batchSize,
          flushIntervalMs: lastGood.document.upload.intervalSeconds * 1000,
          telemetryIntervalMs: lastGood.document.telemetry.intervalSeconds * 1000,
        }),
        ...deps.fleetAgent,
      });
      agent = a;
      closers.push(() => a.stop());
      a.start();
    }

    const url = await api.listen({ host: cfg.api.host, port: cfg.api.port });
    logger.info({ url, readers: current.readers.map((r) => r.id), fleet: identity?.terminalId }, 'terminal runtime started');
    return {
      get manager() { return cards.setup.manager; },
      cards, api, url, ecard, hotlist, agent, outbox,
      settings: () => current,
      applyFleetConfig,
      close: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
