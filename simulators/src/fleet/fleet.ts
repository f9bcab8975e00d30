/**
 * Many simulated terminals in one process: enrols them (creating a group and enrolment tokens with
 * an admin token), connects them with bounded concurrency, keeps fleet-wide counters from their
 * events, and offers the operations tests and benchmarks need — wait until every terminal applied
 * a configuration version, send a burst of event batches and wait for every ack, periodic
 * telemetry and events. Bounded in count ({@link MAX_FLEET_TERMINALS}) and loopback only.
 */
import { SimulatorError } from '../errors.ts';
import { FleetHttp, createEnrolmentToken, enrolTerminal, ensureGroup, type TerminalCredentials } from './http.ts';
import { SimTerminal, type SimTerminalEvent } from './terminal.ts';

/** Largest fleet one process simulates. */
export const MAX_FLEET_TERMINALS = 20_000;

/** Fleet-wide counters (a snapshot). */
export interface FleetStats {
  terminals: number;
  enrolled: number;
  connected: number;
  births: number;
  disconnects: number;
  reconnects: number;
  connectFailures: number;
  configApplied: number;
  configRejected: number;
  /** Newest configuration version applied, and how many terminals have applied it. */
  configVersion: number;
  configAtVersion: number;
  eventsQueued: number;
  eventsPublished: number;
  eventsAcked: number;
  retransmitted: number;
  telemetry: number;
  downMessages: number;
  errors: number;
  lastError: string | undefined;
}

export interface EnrolOptions {
  /** HTTP base URL of the fleet server (loopback only). */
  readonly server: string;
  /** Admin bearer token: creates the group and one enrolment token per terminal. */
  readonly adminToken?: string;
  /** Enrolment tokens made elsewhere (used instead of creating them). */
  readonly enrolmentTokens?: readonly string[];
  readonly terminals: number;
  readonly groupId?: string;
  readonly tags?: readonly string[];
  readonly kind?: string;
  /** Parallel enrolments. Default 32. */
  readonly concurrency?: number;
  readonly onProgress?: (done: number) => void;
}

export interface FleetOptions {
  readonly server: string;
  readonly kind?: string;
  /** Parallel connection attempts. Default 200. */
  readonly concurrency?: number;
  /** HTTP sockets for configuration fetches. Default 64. */
  readonly httpSockets?: number;
  readonly reconnectDelayMs?: number;
  readonly keepaliveSeconds?: number;
  readonly batchSize?: number;
  readonly onEvent?: (e: SimTerminalEvent) => void;
}

/** Runs `fn` over `items` with at most `limit` in flight; collects results in order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

function checkCount(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_FLEET_TERMINALS) {
    throw new SimulatorError('SIM_ERR_FLEET_LIMIT', `terminals must be 1..${MAX_FLEET_TERMINALS}, got ${n}`, { terminals: n });
  }
}

/**
 * Enrols `terminals` simulated terminals and returns their credentials.
 * @throws SimulatorError `SIM_ERR_FLEET_LIMIT`, `SIM_ERR_FLEET_NOT_LOOPBACK`, `SIM_ERR_FLEET_HTTP`, `SIM_ERR_FLEET_ENROL`
 */
export async function enrolFleet(opts: EnrolOptions): Promise<TerminalCredentials[]> {
  checkCount(opts.terminals);
  const http = new FleetHttp(opts.server, opts.concurrency ?? 32);
  try {
    const groupId = opts.groupId ?? 'sim-fleet';
    let tokens = opts.enrolmentTokens;
    if (tokens === undefined) {
      if (opts.adminToken === undefined) throw new SimulatorError('SIM_ERR_FLEET_ENROL', 'an admin token or enrolment tokens are needed');
      const admin = opts.adminToken;
      await ensureGroup(http, admin, groupId, 'simulated fleet');
      tokens = await mapLimit(Array.from({ length: opts.terminals }), opts.concurrency ?? 32, () => createEnrolmentToken(http, admin, groupId, opts.tags ?? ['kind:sim']));
    }
    if (tokens.length < opts.terminals) throw new SimulatorError('SIM_ERR_FLEET_ENROL', `${tokens.length} enrolment tokens for ${opts.terminals} terminals`);
    let done = 0;
    return await mapLimit(tokens.slice(0, opts.terminals), opts.concurrency ?? 32, async (tok) => {
      const c = await enrolTerminal(http, tok, opts.kind ?? 'kiosk');
      opts.onProgress?.(++done);
      return c;
    });
  } finally {
    http.close();
  }
}

export class SimFleet {
  readonly terminals: readonly SimTerminal[];
  readonly #http: FleetHttp;
  readonly #opts: FleetOptions;
  readonly #stats: FleetStats;
  readonly #appliedByVersion = new Map<number, number>();
  #configWaiters: { version: number; count: number; resolve: () => void }[] = [];
  #timers: NodeJS.Timeout[] = [];

  /** @throws SimulatorError `SIM_ERR_FLEET_LIMIT`, `SIM_ERR_FLEET_NOT_LOOPBACK` */
  constructor(credentials: readonly TerminalCredentials[], opts: FleetOptions) {
    checkCount(credentials.length);
    this.#opts = opts;
    this.#http = new FleetHttp(opts.server, opts.httpSockets ?? 64);
    this.#stats = {
      terminals: credentials.length, enrolled: credentials.length, connected: 0, births: 0, disconnects: 0, reconnects: 0, connectFailures: 0,
      configApplied: 0, configRejected: 0, configVersion: 0, configAtVersion: 0, eventsQueued: 0, eventsPublished: 0, eventsAcked: 0, retransmitted: 0,
      telemetry: 0, downMessages: 0, errors: 0, lastError: undefined,
    };
    const onEvent = (e: SimTerminalEvent): void => {
      this.#count(e);
      opts.onEvent?.(e);
    };
    this.terminals = credentials.map((credentials) => new SimTerminal({
      credentials, http: this.#http, onEvent,
      ...(opts.kind !== undefined ? { kind: opts.kind } : {}),
      ...(opts.reconnectDelayMs !== undefined ? { reconnectDelayMs: opts.reconnectDelayMs } : {}),
      ...(opts.keepaliveSeconds !== undefined ? { keepaliveSeconds: opts.keepaliveSeconds } : {}),
      ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
    }));
  }

  /** Switches every terminal to or from legacy behaviour ({@link SimTerminal.legacy}). */
  setLegacy(on: boolean): void {
    for (const t of this.terminals) t.legacy = on;
  }

  #count(e: SimTerminalEvent): void {
    const s = this.#stats;
    switch (e.type) {
      case 'connected':
        s.connected++;
        if (e.reconnect) s.reconnects++;
        break;
      case 'disconnected':
        s.connected--;
        s.disconnects++;
        break;
      case 'birth':
        s.births++;
        break;
      case 'config': {
        if (e.status === 'rejected') {
          s.configRejected++;
          break;
        }
        s.configApplied++;
        const n = (this.#appliedByVersion.get(e.version) ?? 0) + 1;
        this.#appliedByVersion.set(e.version, n);
        if (e.version >= s.configVersion) {
          s.configVersion = e.version;
          s.configAtVersion = n;
        }
        this.#configWaiters = this.#configWaiters.filter((w) => (w.version === e.version && n >= w.count ? (w.resolve(), false) : true));
        break;
      }
      case 'acked':
        s.eventsAcked += e.records;
        break;
      case 'published':
        s.eventsPublished += e.records;
        if (e.retransmit) s.retransmitted += e.records;
        break;
      case 'telemetry':
        s.telemetry++;
        break;
      case 'down':
        s.downMessages++;
        break;
      case 'error':
        s.errors++;
        s.lastError = `${e.code}: ${e.message}`.slice(0, 200);
        break;
    }
  }

  stats(): Readonly<FleetStats> {
    return { ...this.#stats };
  }

  /** Terminals that applied configuration `version`. */
  appliedCount(version: number): number {
    return this.#appliedByVersion.get(version) ?? 0;
  }

  /**
   * Connects every terminal, or those of `terminals[from, to)` (bounded concurrency). Failures are
   * counted, not thrown. Returns the wall time in ms and the number that failed.
   */
  async connectAll(range: { readonly from?: number; readonly to?: number } = {}): Promise<{ ms: number; failed: number }> {
    const t0 = performance.now();
    let failed = 0;
    await mapLimit(this.terminals.slice(range.from ?? 0, range.to ?? this.terminals.length), this.#opts.concurrency ?? 200, async (term) => {
      try {
        await term.connect();
      } catch (err) {
        failed++;
        this.#stats.connectFailures++;
        this.#count({ type: 'error', terminalId: term.id, code: (err as SimulatorError).code ?? 'SIM_ERR_FLEET_CONNECT', message: (err as Error).message });
      }
    });
    return { ms: performance.now() - t0, failed };
  }

  /**
   * Resolves when `count` terminals (default all) applied configuration `version`.
   * @throws SimulatorError `SIM_ERR_FLEET_TIMEOUT`
   */
  waitForConfig(version: number, timeoutMs: number, count = this.terminals.length): Promise<void> {
    if (this.appliedCount(version) >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = { version, count, resolve: () => { clearTimeout(timer); resolve(); } };
      const timer = setTimeout(() => {
        this.#configWaiters = this.#configWaiters.filter((x) => x !== w);
        reject(new SimulatorError('SIM_ERR_FLEET_TIMEOUT', `config ${version}: ${this.appliedCount(version)}/${count} applied after ${timeoutMs} ms`, { applied: this.appliedCount(version) }));
      }, timeoutMs);
      this.#configWaiters.push(w);
    });
  }

  /**
   * Every terminal among the first `terminals` (default all) queues `recordsPerTerminal` records;
   * resolves when the server acknowledged all of them, with the wall time.
   * @throws SimulatorError `SIM_ERR_FLEET_TIMEOUT`
   */
  async burst(recordsPerTerminal: number, timeoutMs: number, terminals = this.terminals.length): Promise<{ records: number; ms: number }> {
    const chosen = this.terminals.slice(0, terminals);
    const t0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SimulatorError('SIM_ERR_FLEET_TIMEOUT', `burst not acknowledged after ${timeoutMs} ms (${this.#stats.eventsAcked}/${this.#stats.eventsQueued})`)), timeoutMs);
    });
    this.#stats.eventsQueued += recordsPerTerminal * chosen.length;
    try {
      await Promise.race([Promise.all(chosen.map((t) => t.sendEvents(recordsPerTerminal))), timeout]);
    } finally {
      clearTimeout(timer);
    }
    return { records: recordsPerTerminal * chosen.length, ms: performance.now() - t0 };
  }

  /** Every terminal publishes telemetry each `intervalMs` (spread over the interval). */
  startTelemetry(intervalMs: number): void {
    this.terminals.forEach((t, i) => {
      const start = setTimeout(() => {
        t.publishTelemetry();
        this.#timers.push(setInterval(() => t.publishTelemetry(), intervalMs));
      }, (intervalMs * i) / this.terminals.length);
      this.#timers.push(start);
    });
  }

  /** Every terminal queues `records` outbox records each `intervalMs` (spread over the interval). */
  startEvents(intervalMs: number, records: number): void {
    this.terminals.forEach((t, i) => {
      const tick = (): void => {
        this.#stats.eventsQueued += records;
        void t.sendEvents(records);
      };
      const start = setTimeout(() => {
        tick();
        this.#timers.push(setInterval(tick, intervalMs));
      }, (intervalMs * i) / this.terminals.length);
      this.#timers.push(start);
    });
  }

  /** Stops timers and disconnects every terminal cleanly. */
  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers = [];
    await mapLimit(this.terminals, 500, (t) => t.close());
    this.#http.close();
  }
}
