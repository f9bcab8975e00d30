/**
 * One terminal runtime instance: reader manager (behind a {@link CardGate} so that readers can be
 * swapped between card sessions), hotlist, purchase journal, logger, e-card verifier and
 * scanners, the local API listening on the configured address, and — with a `fleet` section —
 * the fleet agent: outbox fed by the card services, hotlist deltas into the compact hotlist the
 * services check, fleet configuration applied atomically (last good one kept on disk), the job
 * runner (transit key sets into the keystore under this terminal's KBPK, software updates into
 * the A/B install root), and the soft SAM used for fares when no PSAM is configured. Only this
 * file and the CLI open devices and bind ports; everything is injected for tests.
 * {@link startRuntime} runs in-process (no signal handlers, everything closed by `close()`); the
 * terminal root (`terminal.ts`, `startTerminal`) builds the configuration from a data dir and
 * restarts instances.
 */
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { Logger } from 'pino';
import { fromHex } from '@onecard/protocol/bytes';
import { TerminalError } from '../errors.ts';
import { openReaderManager, type ReaderConfig, type ReaderManager } from '../card/index.ts';
import { nodeHidOpener, type HidOpener, type TransportFactory } from '../link/index.ts';
import { join } from 'node:path';
import type { ConfigFieldEffectMessage, TerminalConfigDocument } from '@onecard/protocol/fleet';
import type { AppliedSettings } from './fleet.ts';
import { openFileHotlist, openFileJournal, type Hotlist, type PurchaseJournal } from '../services/index.ts';
import type { CompactHotlist } from '../hotlist/index.ts';
import type { FleetAgent, FleetAgentOptions, ReaderStatus as FleetReaderStatus } from '../agent/fleet-agent.ts';
import type { Outbox } from '../agent/outbox-types.ts';
import type { ConfigPointerValue } from '../agent/fleet-http.ts';
import { CardGate, type CardSetup } from './card-gate.ts';
import { ALL_SERVICES, journaledServices, settleFromOutbox, type ServiceFlags } from './journaled-services.ts';
import { createEcardVerifier, createHttpOnlineVerifier, type EcardVerifier } from '../ecard/index.ts';
import { buildLocalApi, fleetStaffChecker, readApiTls, SCREEN_PAGES, type DeskActionRecord } from '../api/index.ts';
import type { FastifyInstance } from 'fastify';
import type { TerminalConfig } from './config.ts';
import type { Keystore } from '../agent/keystore.ts';
import type { JobRunner } from '../agent/job-runner.ts';
import type { SoftSam } from '../agent/soft-sam.ts';
import { openScanners, serialportScannerOpener, type SerialScannerOpener } from './scanners.ts';
import { VenueGate, httpVenueServerLink } from '../services/venue.ts';
import { httpHolderServerLink } from '../services/holder-link.ts';
import { openSerialPinPad, PinEntry, type PinPad } from '../pinpad/index.ts';
import { enrolledLogin } from '../login/service.ts';
import { LibraryService, type LibrarySettings } from '../services/library.ts';
import type { ConfigSecrets } from '../agent/config-secrets.ts';
import { BarcodeScans } from '../services/library-barcodes.ts';
import { createSerialLineDecoder, createWedgeDecoder } from '../ecard/index.ts';

export interface RuntimeDeps {
  readonly logger: Logger;
  readonly clock?: { now(): number };
  readonly transportFactory?: TransportFactory;
  readonly hidOpener?: HidOpener;
  readonly serialScannerOpener?: SerialScannerOpener;
  /** Opens the PIN pad of `pinpad` (default: serial line driver over `serialport`). */
  readonly pinpadOpener?: (path: string, baudRate: number) => Promise<PinPad>;
  /** Overrides `api.token` (e.g. from ONECARD_API_TOKEN). */
  readonly token?: string;
  /** Human name of the terminal (from the enrolment), logged beside the id. */
  readonly terminalName?: string;
  /**
   * Starts a release the updater switched in. `run` ends the process so the supervisor (systemd)
   * starts `current`; the terminal root restarts the runtime in-process. Without it, update jobs
   * are refused.
   */
  readonly startRelease?: (release: { dir: string; version: string }) => Promise<void>;
  /**
   * Asks the owner to restart this runtime between card sessions (restart-class configuration
   * fields). Returns at once; the restart happens after the caller's work (never await the restart
   * itself from inside a fleet configuration apply).
   */
  readonly requestRestart?: (reason: string) => void;
  /** Extra fleet agent options (tests and the demo: faster flush, backoff policy). */
  readonly fleetAgent?: Partial<Pick<FleetAgentOptions, 'policy' | 'flushIntervalMs' | 'telemetryIntervalMs' | 'batchSize' | 'fetch' | 'connect' | 'onJobNotify' | 'keysVersion'>>;
}

/** The reader layout and services in effect. */
export interface RuntimeSettings {
  readonly readers: readonly ReaderConfig[];
  readonly card: { readonly reader: string; readonly slot: number } | undefined;
  readonly psam: { readonly reader: string; readonly slot: number } | undefined;
  readonly services: ServiceFlags;
}

export interface Runtime {
  readonly terminalId: string;
  /** The software version this instance reports (the install root's `current`, or the configured one). */
  readonly softwareVersion: string;
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
  /** Fleet members: the transit keystore (under this terminal's KBPK), the job runner, the soft SAM. */
  readonly keystore: Keystore | undefined;
  readonly jobRunner: JobRunner | undefined;
  readonly softSam: SoftSam | undefined;
  /** Resolves when a pending software update has been confirmed or rolled back ('none': nothing pending). */
  readonly updateSettled: Promise<'none' | 'succeeded' | 'rolled-back'>;
  /** Settings in effect. */
  settings(): RuntimeSettings;
  /**
   * Applies a fleet configuration document (what the agent calls after fetching, hash check and
   * schema validation): readers re-opened once the card session in progress has ended, services
   * switched, log level set, the document kept on disk as the last good one.
   * @throws TerminalError `TERM_ERR_CONFIG_APPLY` (cannot run here; nothing changed)
   */
  applyFleetConfig(doc: TerminalConfigDocument, pointer: ConfigPointerValue): Promise<readonly ConfigFieldEffectMessage[]>;
  close(): Promise<void>;
}

/**
 * Builds the e-card verifier of a config (undefined without `ecard`). With a data dir, used codes
 * are kept in `DIR/ecard/replay.log` across restarts.
 */
export function ecardVerifierFromConfig(cfg: TerminalConfig, clock: () => number): EcardVerifier | undefined {
  if (cfg.ecard === undefined) return undefined;
  const e = cfg.ecard;
  return createEcardVerifier({
    keys: e.keys.map((k) => ({ publicKey: fromHex(k.publicKey), ...(k.label === undefined ? {} : { label: k.label }) })),
    clock,
    ...(e.skewSeconds === undefined ? {} : { skewSeconds: e.skewSeconds }),
    ...(e.maxTtlSeconds === undefined ? {} : { maxTtlSeconds: e.maxTtlSeconds }),
    ...(cfg.fleet === undefined ? {} : { replayFile: join(cfg.fleet.dataDir, 'ecard', 'replay.log') }),
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
  const logger = deps.logger.child({ terminalId: cfg.terminalId, ...(deps.terminalName === undefined ? {} : { terminalName: deps.terminalName }) });
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
      import('../agent/keystore.ts'), import('../agent/job-runner.ts'), import('../agent/soft-sam.ts'), import('../agent/kbpk.ts'), import('./updates.ts'),
      import('../agent/config-secrets.ts'),
    ]).then(([identity, outbox, hot, cfgMod, agentMod, ks, jr, sam, kbpk, upd, sec]) => ({ ...identity, ...outbox, ...hot, ...cfgMod, ...agentMod, ...ks, ...jr, ...sam, ...kbpk, ...upd, ...sec }));
    const identity = fleet === undefined || fm === undefined ? undefined : await fm.loadIdentity(fleet.dataDir);
    // How each fleet configuration field takes effect (config-apply.ts); restart-class values are read here at start.
    const ca = fm === undefined ? undefined : await import('./config-apply.ts');
    const lastGood = fleet === undefined || fm === undefined ? undefined : await fm.loadLastGoodConfig(fleet.dataDir, (why) => logger.warn({ why }, 'last good configuration ignored'));
    const freshness = fleet === undefined || ca === undefined ? undefined : await ca.HotlistFreshness.open(fleet.dataDir);
    let liveSettings: AppliedSettings | undefined = lastGood === undefined || fm === undefined ? undefined : fm.settingsFromDocument(lastGood.document);
    let outbox: Outbox | undefined;
    let compact: CompactHotlist | undefined;
    let hotlist: Hotlist | undefined;
    if (fleet !== undefined && fm !== undefined) {
      const ob = await fm.openFileOutbox({ dir: join(fleet.dataDir, 'outbox'), ...(lastGood === undefined ? {} : { limits: { maxRecords: lastGood.document.upload.maxOutboxRecords } }), onAlarm: (a) => logger.error({ alarm: a.kind, pending: a.pending }, 'outbox alarm') });
      outbox = ob;
      closers.push(() => ob.close());
      compact = await fm.openCompactHotlist(join(fleet.dataDir, 'hotlist'), { onCorrupt: 'reset', onWarning: (w, detail) => logger.warn({ what: w, detail }, 'hotlist file') });
      hotlist = compact;
      if (cfg.hotlist !== undefined) logger.warn({ file: cfg.hotlist.file }, 'hotlist.file ignored: the fleet hotlist is used');
    } else if (cfg.hotlist !== undefined) {
      hotlist = await openFileHotlist(cfg.hotlist.file);
    }
    const journal: PurchaseJournal | undefined = cfg.journal === undefined ? undefined : await openFileJournal(cfg.journal.file);
    if (journal !== undefined) closers.push(() => journal.close());
    if (journal !== undefined && outbox !== undefined) await settleFromOutbox(journal, outbox, logger);
    // Transit keys: kept as key blocks under the KBPK (derived here as the server derives it for delivery; never sent).
    let keystore: Keystore | undefined;
    let softSam: SoftSam | undefined;
    // Configuration secrets (the SIP2 password): kept as copies sealed for this terminal under a key from the same KBPK.
    let configSecrets: ConfigSecrets | undefined;
    if (fleet !== undefined && fm !== undefined && identity !== undefined) {
      const kbpk = fm.deriveKbpk(identity.privateKey, identity.serverPublicKey, identity.terminalId);
      try {
        keystore = await fm.openKeystore(join(fleet.dataDir, 'keys'), kbpk);
        configSecrets = await fm.openConfigSecrets(join(fleet.dataDir, 'secrets'), kbpk, identity.terminalId,
          fm.httpConfigSecretsFetcher({ serverUrl: identity.serverUrl, terminalId: identity.terminalId, password: identity.mqtt.password }));
      } finally { kbpk.fill(0); }
      const ks = keystore;
      const cs = configSecrets;
      closers.push(() => { ks.close(); cs.close(); });
      const terminalNumber = cfg.softSam?.terminalNumber ?? defaultTerminalNumber(identity.terminalId);
      softSam = new fm.SoftSam({ keystore: ks, terminalNumber, nextSerial: persistedCounter(join(fleet.dataDir, 'soft-sam.serial')) });
    }
    const installed = fm === undefined || cfg.updates === undefined ? undefined : await fm.installedVersion(cfg.updates.root);
    const softwareVersion = installed ?? fleet?.softwareVersion ?? '0.1.0';
    const pinnedReaders = cfg.pinned.includes('readers');
    let current: RuntimeSettings = { readers: cfg.readers, card: cfg.card, psam: cfg.psam, services: ALL_SERVICES };
    if (lastGood !== undefined && fm !== undefined) {
      const s = fm.settingsFromDocument(lastGood.document);
      current = pinnedReaders ? { ...current, services: s.services } : { readers: s.readers, card: s.card, psam: s.psam, services: s.services };
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
      user: s.card === undefined ? undefined : { readerId: s.card.reader, slot: s.card.slot },
      psam: s.psam === undefined ? undefined : { readerId: s.psam.reader, slot: s.psam.slot },
      ...(softSam === undefined ? {} : { softPsam: softSam }),
    });
    const cards = new CardGate(openSetup(current));
    closers.push(() => cards.close());
    const ecardBase = ecardVerifierFromConfig(cfg, () => clock.now());
    if (ecardBase?.close !== undefined) closers.push(() => ecardBase.close?.());
    const ecard = ecardBase === undefined || ca === undefined ? ecardBase : ca.switchableEcardVerifier(ecardBase, () => liveSettings?.ecardQr ?? true);
    const scans = new EventEmitter();
    if (ecard !== undefined && cfg.ecard !== undefined && cfg.ecard.scanners.length > 0) {
      closers.push(await openScanners(cfg.ecard.scanners, { verifier: ecard, scans, logger, hidOpener: deps.hidOpener ?? nodeHidOpener, serialOpener: deps.serialScannerOpener ?? serialportScannerOpener }));
    }
    let pinpad: PinEntry | undefined;
    if (cfg.pinpad !== undefined) {
      const pad = await (deps.pinpadOpener ?? ((path, baud) => openSerialPinPad(path, baud, logger)))(cfg.pinpad.path, cfg.pinpad.baudRate);
      closers.push(() => pad.close());
      pinpad = new PinEntry(pad, { timeoutMs: cfg.pinpad.timeoutSeconds * 1000 });
    }
    let agent: FleetAgent | undefined;
    const journaled = journaledServices({ outbox, services: () => current.services, journaled: () => agent?.notifyPending(), logger, clock: () => clock.now() });
    const services = ca === undefined ? journaled : ca.staleHotlistGuard(journaled, { maxStaleSeconds: () => liveSettings?.hotlist.maxStaleSeconds, checkedAt: () => freshness?.checkedAt, now: () => clock.now() });
    // Library gate and loan desk over SIP2 (fleet members: the library section of the fleet configuration, live).
    let libraryDocument: () => LibrarySettings | undefined = () => undefined;
    const library = fleet === undefined ? undefined : new LibraryService({
      settings: () => libraryDocument(),
      logger, clock: () => clock.now(),
      ...(outbox === undefined ? {} : { journal: async (type: string, body: Record<string, unknown>) => { await outbox.append({ type, body, class: 'event' }); agent?.notifyPending(); } }),
    });
    if (library !== undefined) closers.push(() => library.close());
    const barcodes = library === undefined ? undefined : new BarcodeScans({ logger, clock: () => clock.now() });
    for (const sc of cfg.library?.scanners ?? []) {
      const device = sc.link === 'hid' ? await (deps.hidOpener ?? nodeHidOpener)(sc.path) : await (deps.serialScannerOpener ?? serialportScannerOpener)(sc.path, sc.baudRate ?? 9600);
      closers.push(async () => { await device.close(); });
      barcodes?.attach(device, sc.link === 'hid' ? createWedgeDecoder(sc.reportId === undefined ? {} : { reportId: sc.reportId }) : createSerialLineDecoder(), `${sc.link}:${sc.path}`);
    }
    // Venue gate (fleet members: the venues section of the fleet configuration, live); its ledger and snapshot in DIR/venue.
    let venueRules: () => TerminalConfigDocument['venues'] = () => undefined;
    const venue = fleet === undefined ? undefined : await VenueGate.open({
      rules: () => venueRules(), dir: join(fleet.dataDir, 'venue'), outbox, journaled: () => agent?.notifyPending(), clock: () => clock.now(), logger,
      hotlistStale: () => {
        const max = liveSettings?.hotlist.maxStaleSeconds;
        const at = freshness?.checkedAt;
        return max !== undefined && (at === undefined || clock.now() - at > max * 1000);
      },
      ...(identity === undefined ? {} : { server: httpVenueServerLink({ serverUrl: identity.serverUrl, terminalId: identity.terminalId, password: identity.mqtt.password }) }),
    });
    if (venue !== undefined) {
      closers.push(() => venue.close());
      // A gate's e-card scanner admits by itself: every verified code is a venue decision.
      scans.on('scan', (r: { ok: boolean; identity?: { holderRef: string; maskedId: string } }) => {
        if (!r.ok || r.identity === undefined || venueRules() === undefined) return;
        venue.enterEcard(r.identity).then((d) => scans.emit('venue', d), (e: unknown) => logger.warn({ code: (e as { code?: unknown }).code }, 'venue decision failed'));
      });
    }
    const token = deps.token ?? cfg.api.token;
    const api = await buildLocalApi({
      readers: cards,
      services,
      logger,
      clock,
      scans,
      allowedOrigins: [...new Set([...cfg.api.allowedOrigins, ...(lastGood?.document.api.allowedOrigins ?? [])])],
      allowedHosts: cfg.api.allowedHosts,
      allowedClients: cfg.api.allowedClients,
      ...(cfg.api.tls === undefined ? {} : { tls: readApiTls(cfg.api.tls) }),
      ...(token === undefined ? {} : { token }),
      ...(hotlist === undefined ? {} : { hotlist }),
      ...(journal === undefined ? {} : { journal }),
      ...(ecard === undefined ? {} : { ecard }),
      ...(cfg.deviceNumber === undefined ? {} : { deviceNumber: cfg.deviceNumber }),
      screens: { pages: SCREEN_PAGES.filter((p) => cfg.screens?.[p] === true) },
      ...(venue === undefined ? {} : { venue }),
      ...(pinpad === undefined ? {} : { pinpad }),
      ...(library === undefined ? {} : { library: { service: library, ...(barcodes === undefined ? {} : { barcodes }) } }),
      ...(identity === undefined ? {} : { checkStaff: fleetStaffChecker({ serverUrl: identity.serverUrl, terminalId: identity.terminalId, password: identity.mqtt.password }) }),
      ...(identity === undefined ? {} : { login: enrolledLogin(identity) }),
      ...(identity === undefined ? {} : { holderLink: httpHolderServerLink({ serverUrl: identity.serverUrl, terminalId: identity.terminalId, password: identity.mqtt.password }) }),
      ...(outbox === undefined ? {} : {
        reportLoss: async ({ cardNumber, staffId }: { cardNumber: string; staffId?: string }) => {
          // The kiosk's loss report: a transaction the fleet applies to the hotlist (server ingest).
          // Taken at the desk, it names the signed-in member of staff (the server audits it).
          const r = await outbox.append({ type: 'card.loss-report', body: { cardNumber, pinVerified: true, reason: 'lost', ...(staffId === undefined ? {} : { staffId }) }, class: 'transaction' });
          agent?.notifyPending();
          return { online: agent?.state.kind === 'online', ...(r.status === 'written' ? { seq: r.record.seq } : {}) };
        },
        deliveredSeq: () => outbox.stats().ackedSeq,
        cancelLoss: async ({ cardNumber, staffId }: { cardNumber: string; staffId?: string }) => {
          // The desk's 解挂: the fleet takes the card off the hotlist; only that the ID matched travels.
          await outbox.append({ type: 'card.loss-cancel', body: { cardNumber, idChecked: true, ...(staffId === undefined ? {} : { staffId }) }, class: 'transaction' });
          agent?.notifyPending();
          return { online: agent?.state.kind === 'online' };
        },
        deskAction: async ({ type, ...body }: DeskActionRecord) => {
          // The desk's PIN unblock/reload: an event naming the member of staff (the server audits it).
          try {
            await outbox.append({ type, body: { ...body }, class: 'event' });
            agent?.notifyPending();
          } catch (e) {
            logger.error({ code: (e as { code?: unknown }).code, type }, 'desk action not journaled');
          }
        },
      }),
    });
    closers.push(() => api.close());
    if (ca !== undefined) ca.addApiGates(api, { hisCompat: () => liveSettings?.hisCompat ?? true });

    let applyChain: Promise<void> = Promise.resolve();
    const applier = ca === undefined || fm === undefined || fleet === undefined ? undefined : new ca.FleetConfigApplier(lastGood?.document, {
      logger, clock: () => clock.now(),
      pinned: new Set(pinnedReaders ? ['/readers'] : []),
      setLive: (s) => {
        liveSettings = s;
        current = { ...current, services: s?.services ?? ALL_SERVICES };
        if (cfg.log.level !== 'silent') logger.level = s?.logLevel ?? cfg.log.level;
        agent?.retune(ca.agentTuning(s, deps.fleetAgent));
      },
      swapReaders: async (s) => {
        const next: RuntimeSettings = { ...current, readers: s.readers, card: s.card, psam: s.psam };
        if (sameLayout(current, next)) return;
        const previous = current;
        logger.info({ readers: next.readers.map((r) => r.id), sessions: cards.sessions }, 'fleet configuration: re-opening readers after the card session');
        await cards.swap(() => openSetup(next), () => openSetup(previous));
        current = { ...next, services: current.services };
      },
      save: (value) => fm.saveLastGoodConfig(fleet.dataDir, value),
      requestRestart: deps.requestRestart,
    });
    libraryDocument = () => configSecrets?.library(applier?.document?.library);
    venueRules = () => applier?.document?.venues;
    const applyFleetConfig = (doc: TerminalConfigDocument, pointer: ConfigPointerValue): Promise<readonly ConfigFieldEffectMessage[]> => {
      const run = applyChain.then(async () => {
        if (applier === undefined) throw new TerminalError('TERM_ERR_CONFIG_APPLY', 'not a fleet member (no fleet section)', { field: 'fleet' });
        // The document's secrets are fetched (sealed for this terminal) before it takes effect; a failure rejects it.
        await configSecrets?.prepare(doc, pointer.version);
        return applier.apply(doc, pointer);
      });
      applyChain = run.then(() => undefined, () => undefined);
      return run;
    };

    let jobRunner: JobRunner | undefined;
    let updateSettled: Promise<'none' | 'succeeded' | 'rolled-back'> = Promise.resolve('none');
    if (fm !== undefined && fleet !== undefined && identity !== undefined && outbox !== undefined && compact !== undefined) {
      const up = cfg.updates;
      const startRelease = deps.startRelease;
      const updater = up === undefined || startRelease === undefined ? undefined : {
        root: up.root, pinnedKeys: up.pinnedKeys, healthDeadlineMs: up.healthDeadlineSeconds * 1000,
        serverUrl: identity.serverUrl, auth: { terminalId: identity.terminalId, password: identity.mqtt.password },
        logger, now: () => clock.now(), startRelease,
        // Healthy: the broker is reached and no configured reader is in error.
        healthy: async (signal: AbortSignal) => {
          const a = agent;
          if (a === undefined) throw new TerminalError('TERM_ERR_RUNTIME_CLOSED');
          await Promise.race([
            a.waitFor(() => a.state.kind === 'online' && cards.setup.manager.status().every((r) => r.status !== 'error')),
            new Promise<never>((_r, reject) => signal.addEventListener('abort', () => reject(new TerminalError('TERM_ERR_RUNTIME_CLOSED')), { once: true })),
          ]);
        },
      };
      const runner = new fm.JobRunner({
        serverUrl: identity.serverUrl, terminalId: identity.terminalId, password: identity.mqtt.password, logger,
        ...(keystore === undefined ? {} : { keystore }),
        onUpdate: fm.updateJobHandler(updater),
      });
      jobRunner = runner;
      const fleetReaders = (): FleetReaderStatus[] => cards.setup.manager.status().map((r) => ({
        id: r.readerId.slice(0, 64), link: r.link, status: r.status,
        card: r.slots.some((x) => x.role === 'user' && x.present), psam: r.slots.some((x) => x.role === 'psam' && x.present),
      }));
      // Started from a document whose restart-class changes were pending: they are done now; report it.
      const restartDone = lastGood === undefined || ca === undefined ? undefined : ca.completePendingRestart(lastGood, clock.now());
      if (restartDone !== undefined && lastGood !== undefined) await fm.saveLastGoodConfig(fleet.dataDir, { ...lastGood, changes: restartDone.changes });
      const a = new fm.FleetAgent({
        terminalId: identity.terminalId,
        serverUrl: identity.serverUrl,
        mqtt: identity.mqtt,
        outbox,
        softwareVersion,
        kind: identity.kind,
        clock: () => clock.now(),
        keysVersion: () => keystore?.version ?? 0,
        onJobNotify: runner.onJobNotify,
        hotlist: compact,
        readers: fleetReaders,
        applyConfig: applyFleetConfig,
        logger,
        ...(lastGood === undefined ? {} : { currentConfig: lastGood.pointer, ...ca?.agentTuning(liveSettings) }),
        ...(restartDone === undefined ? {} : { initialConfigStatus: restartDone }),
        ...(freshness === undefined ? {} : { onHotlistChecked: (at: number) => void freshness.mark(at) }),
        ...deps.fleetAgent,
      });
      agent = a;
      closers.push(() => a.stop());
      a.start();
      if (venue !== undefined) {
        venue.start();
        // Reconcile on every (re)connect: fetch the venue snapshot as soon as the fleet link is up.
        let stopped = false;
        closers.push(() => { stopped = true; });
        void (async () => {
          while (!stopped) {
            await a.waitFor(() => stopped || a.state.kind === 'online');
            if (stopped) return;
            await venue.sync();
            await a.waitFor(() => stopped || a.state.kind !== 'online');
          }
        })();
      }
      if (updater !== undefined) {
        const online = (): Promise<void> => a.waitFor(() => a.state.kind === 'online');
        updateSettled = fm.settleUpdateAtStart(updater, (id, m) => a.reportJob(id, m), online).catch((err: unknown) => {
          logger.error({ code: (err as { code?: unknown }).code }, 'pending update could not be settled');
          return 'none' as const;
        });
      }
    }

    const url = await api.listen({ host: cfg.api.host, port: cfg.api.port });
    logger.info({ url, readers: current.readers.map((r) => r.id), fleet: identity?.terminalId, softwareVersion, keys: keystore?.version ?? 0, screens: SCREEN_PAGES.filter((p) => cfg.screens?.[p] === true).map((p) => `${url}/${p}/`) }, 'terminal runtime started');
    return {
      terminalId: cfg.terminalId, softwareVersion,
      get manager() { return cards.setup.manager; },
      cards, api, url, ecard, hotlist, agent, outbox, keystore, jobRunner, softSam, updateSettled,
      settings: () => current,
      applyFleetConfig,
      close: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

/** A soft-SAM terminal number derived from the terminal id (12 digits), when the local file sets none. */
export function defaultTerminalNumber(terminalId: string): string {
  const h = createHash('sha256').update(terminalId, 'utf8').digest();
  return (h.readBigUInt64BE(0) % 1_000_000_000_000n).toString().padStart(12, '0');
}

/**
 * The soft SAM's terminal transaction serial, kept in a small file (written and fsync'd before
 * each serial is used), so serials never repeat across restarts.
 */
export function persistedCounter(file: string): () => number {
  let n = 0;
  try { n = Number.parseInt(readFileSync(file, 'utf8'), 10); } catch { n = 0; }
  if (!Number.isSafeInteger(n) || n < 0) n = 0;
  return () => {
    n = (n + 1) >>> 0;
    const fd = openSync(file, 'w', 0o600);
    try { writeSync(fd, `${n}\n`); fsyncSync(fd); } finally { closeSync(fd); }
    return n;
  };
}
