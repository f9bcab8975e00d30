/**
 * Composition of `onecard-terminal run`: reader manager, hotlist, purchase journal, logger, e-card
 * verifier and scanners, and the local API listening on the configured address. Only this file
 * and the CLI open devices and bind ports; everything is injected for tests.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { fromHex } from '@onecard/protocol/bytes';
import { openReaderManager, type ReaderManager } from '../card/index.ts';
import { nodeHidOpener, type HidOpener, type TransportFactory } from '../link/index.ts';
import { openFileHotlist, openFileJournal, type Hotlist, type PurchaseJournal } from '../services/index.ts';
import { createEcardVerifier, createHttpOnlineVerifier, type EcardVerifier } from '../ecard/index.ts';
import { buildLocalApi, managerCardAccess } from '../api/index.ts';
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
}

export interface Runtime {
  readonly manager: ReaderManager;
  readonly api: FastifyInstance;
  /** `http://host:port` the API listens on. */
  readonly url: string;
  readonly ecard: EcardVerifier | undefined;
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

/**
 * Starts the runtime. Rejects with `TERM_ERR_CONFIG`, `TERM_ERR_HOTLIST_FILE`, `TERM_ERR_JOURNAL_IO`,
 * `TERM_ERR_LINK_OPEN` (scanner) or the listen error (port in use).
 */
export async function startRuntime(cfg: TerminalConfig, deps: RuntimeDeps): Promise<Runtime> {
  const logger = deps.logger.child({ terminalId: cfg.terminalId });
  const clock = deps.clock ?? { now: () => Date.now() };
  const closers: (() => Promise<void> | void)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.reverse()) await c();
  };
  try {
    const hotlist: Hotlist | undefined = cfg.hotlist === undefined ? undefined : await openFileHotlist(cfg.hotlist.file);
    const journal: PurchaseJournal | undefined = cfg.journal === undefined ? undefined : await openFileJournal(cfg.journal.file);
    const manager = openReaderManager({
      readers: cfg.readers,
      logger,
      ...(deps.transportFactory === undefined ? {} : { transportFactory: deps.transportFactory }),
      ...(deps.hidOpener === undefined ? {} : { hidOpener: deps.hidOpener }),
    });
    closers.push(() => manager.close());
    const ecard = ecardVerifierFromConfig(cfg, () => clock.now());
    const scans = new EventEmitter();
    if (ecard !== undefined && cfg.ecard !== undefined && cfg.ecard.scanners.length > 0) {
      closers.push(await openScanners(cfg.ecard.scanners, { verifier: ecard, scans, logger, hidOpener: deps.hidOpener ?? nodeHidOpener, serialOpener: deps.serialScannerOpener ?? serialportScannerOpener }));
    }
    const token = deps.token ?? cfg.api.token;
    const api = await buildLocalApi({
      readers: managerCardAccess(manager, { readerId: cfg.card.reader, slot: cfg.card.slot }, cfg.psam === undefined ? undefined : { readerId: cfg.psam.reader, slot: cfg.psam.slot }),
      logger,
      clock,
      scans,
      allowedOrigins: cfg.api.allowedOrigins,
      allowedHosts: cfg.api.allowedHosts,
      ...(token === undefined ? {} : { token }),
      ...(hotlist === undefined ? {} : { hotlist }),
      ...(journal === undefined ? {} : { journal }),
      ...(ecard === undefined ? {} : { ecard }),
      ...(cfg.deviceNumber === undefined ? {} : { deviceNumber: cfg.deviceNumber }),
    });
    closers.push(() => api.close());
    const url = await api.listen({ host: cfg.api.host, port: cfg.api.port });
    logger.info({ url, readers: cfg.readers.map((r) => r.id) }, 'terminal runtime started');
    return { manager, api, url, ecard, close: closeAll };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
