/**
 * The terminal's composition root: {@link startTerminal} builds the whole terminal from a data
 * dir (what `onecard-terminal enroll` wrote) plus an optional local file, or from a full
 * configuration file, and owns the running {@link Runtime} instance — readers and card gate,
 * card services, purchase journal, outbox, fleet agent, job runner (keys, updates), keystore,
 * soft SAM, A/B updater, compact hotlist, local API, scanners, one injected clock. `onecard-terminal
 * run`, systemd, the demo, the soak and the tests all start terminals here.
 *
 * Data dir layout: `identity.json` + `enrolment-key.pem` (enrolment), `terminal.json` (optional
 * local file, see config.ts), `outbox/`, `hotlist/`, `keys/keys.json`, `config/last-good.json`,
 * `purchases.journal`, `soft-sam.serial`.
 *
 * {@link Terminal.restart} closes the runtime once the card session in progress has ended and
 * starts it again from the same local configuration and the last good fleet configuration on
 * disk (the local API keeps its port).
 */
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { TerminalConfig } from './config.ts';
import { loadTerminalConfig, parseTerminalConfig } from './config.ts';
import { startRuntime, type Runtime, type RuntimeDeps } from './runtime.ts';
import { TerminalError } from '../errors.ts';

/** The local file of an enrolled terminal, in its data dir. */
export const LOCAL_CONFIG_FILE = 'terminal.json';
/** The local API token of an enrolled terminal whose local file sets none (created at first start, 0600). */
export const API_TOKEN_FILE = 'api-token';

/**
 * The local API token kept in the data dir: read, or created (32 random bytes, hex, mode 0600)
 * when missing. Kiosk launchers and HIS bridges on the box read it from there.
 * @throws TerminalError `TERM_ERR_CONFIG` (field `api.token`) when the file cannot be read or written
 */
export async function dataDirApiToken(dataDir: string): Promise<string> {
  const file = join(dataDir, API_TOKEN_FILE);
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new TerminalError('TERM_ERR_CONFIG', `cannot read ${file}`, { field: 'api.token' }, { cause: e });
  }
  const token = randomBytes(32).toString('hex');
  try {
    await writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    // Another start created it first: use that one.
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return (await readFile(file, 'utf8')).trim();
    throw new TerminalError('TERM_ERR_CONFIG', `cannot write ${file}`, { field: 'api.token' }, { cause: e });
  }
  return token;
}

export interface TerminalOptions {
  /** Data dir of an enrolled terminal; its local file is `configFile` or `DIR/terminal.json` (optional). */
  readonly dataDir?: string;
  /** With `dataDir`: the local file (must exist). Without: a full configuration file. */
  readonly configFile?: string;
  /** Instead of a file: the local (with `dataDir`) or full configuration as parsed JSON. */
  readonly configJson?: unknown;
  /** The A/B install root (`--root`, ONECARD_ROOT); overrides `updates.root` of the file. */
  readonly installRoot?: string;
  /**
   * Runtime dependencies. `startRelease` defaults to an in-process restart of the runtime (the
   * process keeps running the code it loaded; `run` passes one that ends the process instead).
   */
  readonly deps: Omit<RuntimeDeps, 'requestRestart' | 'terminalName'>;
  /**
   * Told when a restart asked for by the runtime (restart-class configuration, in-process update)
   * could not start the runtime again; the terminal is then down. `run` ends the process so its
   * supervisor starts it afresh.
   */
  readonly onRestartFailed?: (err: unknown) => void;
}

/** What the local configuration resolved to. */
export interface ResolvedTerminal {
  readonly config: TerminalConfig;
  /** The human name given at enrolment, when any. */
  readonly name: string | undefined;
}

/**
 * Resolves the configuration: with `dataDir`, loads the enrolment (refusing an un-enrolled dir
 * with `TERM_ERR_IDENTITY_MISSING`) and the local file — without `api.token` there, the token is
 * the data dir's `api-token` file (created at first start unless `withApiToken` is false);
 * otherwise the full file.
 * @throws TerminalError `TERM_ERR_CONFIG`, `TERM_ERR_IDENTITY_MISSING`, `TERM_ERR_IDENTITY_INVALID`, `TERM_ERR_INVALID_ARGUMENT`
 */
export async function resolveTerminalConfig(o: Pick<TerminalOptions, 'dataDir' | 'configFile' | 'configJson' | 'installRoot'> & { readonly withApiToken?: boolean }): Promise<ResolvedTerminal> {
  let config: TerminalConfig;
  let name: string | undefined;
  if (o.dataDir !== undefined) {
    const { loadIdentity } = await import('../agent/identity.ts');
    const identity = await loadIdentity(o.dataDir);
    name = typeof identity.name === 'string' && identity.name.length > 0 ? identity.name : undefined;
    const ctx = { terminalId: identity.terminalId, dataDir: o.dataDir, ...(o.installRoot === undefined ? {} : { installRoot: o.installRoot }) };
    config = o.configJson !== undefined ? parseTerminalConfig(o.configJson, ctx)
      : o.configFile !== undefined ? await loadTerminalConfig(o.configFile, ctx)
        : await loadTerminalConfig(join(o.dataDir, LOCAL_CONFIG_FILE), ctx, true);
    if (config.api.token === undefined && o.withApiToken !== false) config = { ...config, api: { ...config.api, token: await dataDirApiToken(o.dataDir) } };
  } else if (o.configJson !== undefined) config = parseTerminalConfig(o.configJson);
  else if (o.configFile !== undefined) config = await loadTerminalConfig(o.configFile);
  else throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', 'a data dir or a configuration file is needed', { field: 'dataDir' });
  if (o.installRoot !== undefined) {
    config = { ...config, updates: { pinnedKeys: [], healthDeadlineSeconds: 120, ...config.updates, root: o.installRoot } };
  }
  return { config, name };
}

/** A running terminal. */
export interface Terminal {
  readonly config: TerminalConfig;
  readonly terminalId: string;
  readonly name: string | undefined;
  /** The runtime instance in effect (replaced by {@link restart}). */
  readonly runtime: Runtime;
  /** `http://host:port` of the local API. */
  readonly url: string;
  /**
   * Restarts the runtime between card sessions: waits for the session in progress, closes
   * everything, starts again (last good fleet configuration from disk). Serialised with other
   * restarts; do not await it from inside a fleet configuration apply (use {@link requestRestart}).
   */
  restart(reason: string): Promise<void>;
  /** Schedules {@link restart} after the caller's work; errors are logged. */
  requestRestart(reason: string): void;
  /** Resolves when a restart scheduled by {@link requestRestart} (or in progress) has finished. */
  restarted(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Builds and starts the terminal.
 * @throws what {@link resolveTerminalConfig} and {@link startRuntime} throw
 */
export async function startTerminal(o: TerminalOptions): Promise<Terminal> {
  const resolved = await resolveTerminalConfig(o);
  let config = resolved.config;
  const logger = o.deps.logger;
  let chain: Promise<void> = Promise.resolve();
  let closed = false;
  let rt: Runtime;
  let term: Terminal | undefined;
  /** A restart asked for while the first runtime was still starting. */
  let early: string | undefined;
  const requestRestart = (reason: string): void => {
    if (term === undefined) { early ??= reason; return; }
    const t = term;
    setImmediate(() => {
      void t.restart(reason).catch((err: unknown) => {
        logger.error({ code: (err as { code?: unknown }).code, reason }, 'runtime restart failed');
        o.onRestartFailed?.(err);
      });
    });
  };
  const deps: RuntimeDeps = {
    ...o.deps,
    ...(resolved.name === undefined ? {} : { terminalName: resolved.name }),
    requestRestart,
    startRelease: o.deps.startRelease ?? (async () => { requestRestart('software update switched in'); }),
  };
  rt = await startRuntime(config, deps);
  // A restarted API keeps the port it got (port 0 = any, the first time).
  const port = Number(new URL(rt.url).port);
  if (config.api.port === 0 && Number.isInteger(port) && port > 0) config = { ...config, api: { ...config.api, port } };
  term = {
    get config() { return config; },
    terminalId: config.terminalId,
    name: resolved.name,
    get runtime() { return rt; },
    get url() { return rt.url; },
    restart(reason: string): Promise<void> {
      const run = chain.then(async () => {
        if (closed) return;
        logger.info({ terminalId: config.terminalId, reason }, 'restarting the terminal runtime');
        await rt.close();
        rt = await startRuntime(config, deps);
      });
      chain = run.catch(() => undefined);
      return run;
    },
    requestRestart,
    restarted: () => new Promise<void>((resolve) => setImmediate(() => { void chain.then(resolve); })),
    async close(): Promise<void> {
      await chain;
      if (closed) return;
      closed = true;
      await rt.close();
    },
  };
  if (early !== undefined) requestRestart(early);
  return term;
}
