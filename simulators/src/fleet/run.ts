/**
 * A whole bounded simulation run, as the `onecard-sim fleet` command does it: enrol N terminals,
 * connect them, run periodic telemetry and event batches (configuration is applied whenever the
 * server pushes it) for a fixed duration with a progress display, then drain and disconnect.
 */
import { SimulatorError } from '../errors.ts';
import { SimFleet, enrolFleet, type FleetStats } from './fleet.ts';
import { assertLoopbackUrl } from './http.ts';
import { ProgressDisplay, formatFleetProgress, type ProgressSink } from './progress.ts';

/** Longest run in seconds. */
export const MAX_FLEET_DURATION_S = 3600;

export interface RunFleetOptions {
  readonly server: string;
  readonly adminToken?: string;
  readonly enrolmentTokens?: readonly string[];
  readonly terminals: number;
  readonly durationSeconds: number;
  readonly groupId?: string;
  readonly tags?: readonly string[];
  readonly kind?: string;
  /** Telemetry period per terminal; 0 disables. Default 30. */
  readonly telemetrySeconds?: number;
  /** Event period per terminal; 0 disables. Default 10. */
  readonly eventsEverySeconds?: number;
  /** Records queued per terminal each period. Default 5. */
  readonly eventsPerTick?: number;
  readonly batchSize?: number;
  readonly concurrency?: number;
  readonly out?: ProgressSink;
  readonly signal?: AbortSignal;
  /** How long to wait at the end for outstanding acknowledgements (default 5 s). */
  readonly drainSeconds?: number;
}

export interface FleetRunResult {
  readonly stats: Readonly<FleetStats>;
  readonly enrolMs: number;
  readonly connectMs: number;
  readonly runMs: number;
}

/**
 * @throws SimulatorError `SIM_ERR_FLEET_LIMIT`, `SIM_ERR_FLEET_NOT_LOOPBACK`, `SIM_ERR_FLEET_HTTP`, `SIM_ERR_FLEET_ENROL`
 */
export async function runFleet(opts: RunFleetOptions): Promise<FleetRunResult> {
  if (!(opts.durationSeconds > 0 && opts.durationSeconds <= MAX_FLEET_DURATION_S)) {
    throw new SimulatorError('SIM_ERR_FLEET_LIMIT', `duration must be in (0, ${MAX_FLEET_DURATION_S}] seconds`, { durationSeconds: opts.durationSeconds });
  }
  assertLoopbackUrl(opts.server);
  const t0 = performance.now();
  const display = opts.out === undefined ? undefined : new ProgressDisplay(opts.out);
  const enrolStats = { terminals: opts.terminals, enrolled: 0 };
  const creds = await enrolFleet({
    server: opts.server, terminals: opts.terminals,
    ...(opts.adminToken !== undefined ? { adminToken: opts.adminToken } : {}),
    ...(opts.enrolmentTokens !== undefined ? { enrolmentTokens: opts.enrolmentTokens } : {}),
    ...(opts.groupId !== undefined ? { groupId: opts.groupId } : {}),
    ...(opts.tags !== undefined ? { tags: opts.tags } : {}),
    ...(opts.kind !== undefined ? { kind: opts.kind } : {}),
    onProgress: (n) => {
      enrolStats.enrolled = n;
      display?.update(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] enrol    enrolled ${n}/${opts.terminals}`, performance.now());
    },
  });
  const enrolMs = performance.now() - t0;
  const fleet = new SimFleet(creds, {
    server: opts.server,
    ...(opts.kind !== undefined ? { kind: opts.kind } : {}),
    ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
  });
  let phase = 'connect';
  const tick = setInterval(() => display?.update(formatFleetProgress(phase, fleet.stats(), performance.now() - t0), performance.now()), 250);
  try {
    const { ms: connectMs } = await fleet.connectAll();
    phase = 'run';
    const tele = opts.telemetrySeconds ?? 30;
    if (tele > 0) fleet.startTelemetry(tele * 1000);
    const evs = opts.eventsEverySeconds ?? 10;
    if (evs > 0) fleet.startEvents(evs * 1000, opts.eventsPerTick ?? 5);
    const runStart = performance.now();
    const remaining = Math.max(0, opts.durationSeconds * 1000 - (runStart - t0));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, remaining);
      opts.signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
    phase = 'drain';
    const drainUntil = performance.now() + 1000 * (opts.drainSeconds ?? 5);
    while (performance.now() < drainUntil && fleet.terminals.some((t) => t.pending > 0 && t.connected)) await new Promise((r) => setTimeout(r, 100));
    const runMs = performance.now() - runStart;
    const stats = fleet.stats();
    display?.done(formatFleetProgress('done', stats, performance.now() - t0));
    return { stats, enrolMs, connectMs, runMs };
  } finally {
    clearInterval(tick);
    await fleet.close();
  }
}
