/**
 * The staged-rollout engine: a pure state machine `step(state, event, now) → {state, effects}`.
 * A rollout targets a list of terminals (resolved by the caller from groups and tags), starts them
 * phase by phase (each phase a size or a percentage of the targets; the last phase takes all the
 * rest) at no more than `ratePerMinute`, advances when a phase's success ratio reaches
 * `successThreshold` (else pauses for an operator's decision), and aborts by itself when failures
 * reach `maxFailures` or exceed `maxFailureRatio`; after an abort no terminal is ever started.
 * A terminal is started only when its reported version is below the target and not below the
 * package's minimum previous version (a downgrade or a same-version install needs `force`).
 * Effects are what the caller does: publish a job notification, retract one, record a status.
 */
import { compareSemver, isSemver } from './semver.ts';

export const TERMINAL_UPDATE_STATUSES = ['pending', 'notified', 'downloading', 'installing', 'health-check', 'succeeded', 'failed', 'rolled-back', 'skipped'] as const;
export type TerminalUpdateStatus = (typeof TERMINAL_UPDATE_STATUSES)[number];

/** Statuses a terminal reports while it works on the job, and its outcomes. */
export type ReportedUpdateStatus = 'downloading' | 'installing' | 'health-check' | 'succeeded' | 'failed' | 'rolled-back';

const RANK: Readonly<Record<TerminalUpdateStatus, number>> = {
  pending: -1, notified: 0, downloading: 1, installing: 2, 'health-check': 3, succeeded: 4, failed: 4, 'rolled-back': 4, skipped: 4,
};

export function isInFlight(s: TerminalUpdateStatus): boolean {
  return s === 'notified' || s === 'downloading' || s === 'installing' || s === 'health-check';
}

export function isFinished(s: TerminalUpdateStatus): boolean {
  return s === 'succeeded' || s === 'failed' || s === 'rolled-back';
}

export type PhaseSpec = { readonly size: number } | { readonly percent: number };

export interface RolloutPlan {
  /** Rollout id; also the job id every targeted terminal sees. */
  readonly id: string;
  readonly packageId: string;
  /** Sequence number of the package (the `version` of the job notification). */
  readonly packageSeq: number;
  readonly targetVersion: string;
  readonly minPreviousVersion: string;
  /** Allows same-version installs and downgrades. */
  readonly force: boolean;
  readonly phases: readonly PhaseSpec[];
  /** Terminals started per rolling minute. */
  readonly ratePerMinute: number;
  /** Fraction (0–1) of a phase's finished terminals that must succeed to advance automatically. */
  readonly successThreshold: number;
  /** Abort once this many terminals failed or rolled back. */
  readonly maxFailures: number;
  /** Abort once failed / finished exceeds this fraction (optional). */
  readonly maxFailureRatio?: number;
  /** A started terminal silent for this long counts as failed (`timeout`). */
  readonly terminalTimeoutMs: number;
}

export interface TerminalEntry {
  readonly id: string;
  readonly status: TerminalUpdateStatus;
  /** Software version the terminal last reported, or null when unknown. */
  readonly version: string | null;
  /** Phase in which it was started; null while pending or when skipped before start. */
  readonly phase: number | null;
  readonly startedAt: number | null;
  readonly updatedAt: number;
  /** Why it was skipped or failed. */
  readonly reason: string | null;
}

interface Base {
  readonly plan: RolloutPlan;
  /** Targets in start order. */
  readonly order: readonly string[];
  readonly terminals: Readonly<Record<string, TerminalEntry>>;
  readonly phaseIndex: number;
  /** A phase an operator accepted despite its success ratio. */
  readonly approvedPhase: number | null;
  /** Start times within the last minute (rate limit). */
  readonly recentStarts: readonly number[];
  readonly createdAt: number;
  readonly updatedAt: number;
}

export type RolloutState =
  | (Base & { readonly status: 'active' })
  | (Base & { readonly status: 'paused'; readonly pauseReason: 'manual' | 'success-threshold'; readonly detail: string })
  | (Base & { readonly status: 'completed' })
  | (Base & { readonly status: 'aborted'; readonly abortReason: 'manual' | 'failure-threshold'; readonly detail: string });

export type RolloutStatus = RolloutState['status'];

export type RolloutEvent =
  | { readonly type: 'tick' }
  | { readonly type: 'progress'; readonly terminalId: string; readonly status: ReportedUpdateStatus; readonly reason?: string }
  | { readonly type: 'add-target'; readonly terminalId: string; readonly version: string | null }
  | { readonly type: 'version'; readonly terminalId: string; readonly version: string }
  | { readonly type: 'pause' }
  | { readonly type: 'resume' }
  | { readonly type: 'abort'; readonly reason?: string };

export type RolloutEffect =
  | { readonly type: 'notify'; readonly terminalId: string; readonly jobId: string }
  | { readonly type: 'cancel'; readonly terminalId: string; readonly jobId: string }
  | { readonly type: 'status'; readonly status: RolloutStatus; readonly reason: string };

export interface StepResult {
  readonly state: RolloutState;
  readonly effects: readonly RolloutEffect[];
}

/** Checks a plan; returns the first problem, or undefined. */
export function planProblem(p: RolloutPlan): string | undefined {
  if (!isSemver(p.targetVersion) || !isSemver(p.minPreviousVersion)) return 'versions must be semver';
  if (p.phases.length === 0 || p.phases.length > 20) return 'between 1 and 20 phases';
  for (const ph of p.phases) {
    if ('size' in ph ? !(Number.isInteger(ph.size) && ph.size >= 1) : !(ph.percent > 0 && ph.percent <= 100)) return 'a phase needs a size ≥ 1 or a percent in (0, 100]';
  }
  if (!(Number.isInteger(p.ratePerMinute) && p.ratePerMinute >= 1)) return 'ratePerMinute must be an integer ≥ 1';
  if (!(p.successThreshold >= 0 && p.successThreshold <= 1)) return 'successThreshold must be in [0, 1]';
  if (!(Number.isInteger(p.maxFailures) && p.maxFailures >= 1)) return 'maxFailures must be an integer ≥ 1';
  if (p.maxFailureRatio !== undefined && !(p.maxFailureRatio >= 0 && p.maxFailureRatio < 1)) return 'maxFailureRatio must be in [0, 1)';
  if (!(p.terminalTimeoutMs >= 1000)) return 'terminalTimeoutMs must be ≥ 1000';
  return undefined;
}

/** A new active rollout over `targets` (duplicates ignored). Call `step(…, {type:'tick'})` to start it. */
export function createRollout(plan: RolloutPlan, targets: readonly { id: string; version: string | null }[], now: number): RolloutState {
  const terminals: Record<string, TerminalEntry> = {};
  const order: string[] = [];
  for (const t of targets) {
    if (Object.hasOwn(terminals, t.id)) continue;
    terminals[t.id] = { id: t.id, status: 'pending', version: t.version, phase: null, startedAt: null, updatedAt: now, reason: null };
    order.push(t.id);
  }
  return { status: 'active', plan, order, terminals, phaseIndex: 0, approvedPhase: null, recentStarts: [], createdAt: now, updatedAt: now };
}

/** Cumulative number of terminals phases 0..i may have started, given `total` targets. */
export function phaseCap(plan: RolloutPlan, i: number, total: number): number {
  if (i >= plan.phases.length - 1) return total;
  let cap = 0;
  for (let k = 0; k <= i; k++) {
    const ph = plan.phases[k]!;
    cap += 'size' in ph ? ph.size : Math.ceil((ph.percent / 100) * total);
  }
  return Math.min(cap, total);
}

/** Why a terminal at `version` must not get this rollout's package, or undefined when it may. */
export function ineligibleReason(plan: RolloutPlan, version: string | null): string | undefined {
  if (plan.force) return undefined;
  if (version === null || !isSemver(version)) return 'version-unknown';
  const c = compareSemver(version, plan.targetVersion);
  if (c === 0) return 'already-at-version';
  if (c > 0) return 'downgrade';
  if (compareSemver(version, plan.minPreviousVersion) < 0) return 'below-min-previous-version';
  return undefined;
}

export interface RolloutCounts {
  readonly total: number;
  readonly started: number;
  readonly byStatus: Readonly<Record<TerminalUpdateStatus, number>>;
  readonly failures: number;
  readonly finished: number;
}

export function countRollout(s: Pick<Base, 'order' | 'terminals'>): RolloutCounts {
  const byStatus = Object.fromEntries(TERMINAL_UPDATE_STATUSES.map((k) => [k, 0])) as Record<TerminalUpdateStatus, number>;
  let started = 0;
  for (const id of s.order) {
    const e = s.terminals[id]!;
    byStatus[e.status]++;
    if (e.phase !== null) started++;
  }
  const failures = byStatus.failed + byStatus['rolled-back'];
  return { total: s.order.length, started, byStatus, failures, finished: failures + byStatus.succeeded };
}

type Draft = { -readonly [K in keyof Base]: Base[K] } & { terminals: Record<string, TerminalEntry>; order: string[]; recentStarts: number[] };

function draftOf(s: RolloutState): Draft {
  return {
    plan: s.plan, order: [...s.order], terminals: { ...s.terminals }, phaseIndex: s.phaseIndex, approvedPhase: s.approvedPhase,
    recentStarts: [...s.recentStarts], createdAt: s.createdAt, updatedAt: s.updatedAt,
  };
}

function setTerminal(d: Draft, id: string, patch: Partial<TerminalEntry>, now: number): void {
  d.terminals[id] = { ...d.terminals[id]!, ...patch, updatedAt: now };
}

/** Abort check: failures against `maxFailures` and `maxFailureRatio`. */
function failureTripped(d: Draft): string | undefined {
  const c = countRollout(d);
  if (c.failures >= d.plan.maxFailures) return `${c.failures} terminal(s) failed (threshold ${d.plan.maxFailures})`;
  if (d.plan.maxFailureRatio !== undefined && c.finished > 0 && c.failures / c.finished > d.plan.maxFailureRatio) {
    return `failure ratio ${(c.failures / c.finished).toFixed(3)} above ${d.plan.maxFailureRatio}`;
  }
  return undefined;
}

function abort(d: Draft, reason: 'manual' | 'failure-threshold', detail: string, now: number, effects: RolloutEffect[]): RolloutState {
  // Notified terminals that have not begun are told to drop the job; pending ones are left untouched.
  for (const id of d.order) {
    if (d.terminals[id]!.status === 'notified') {
      setTerminal(d, id, { status: 'skipped', reason: 'rollout-aborted' }, now);
      effects.push({ type: 'cancel', terminalId: id, jobId: d.plan.id });
    }
  }
  effects.push({ type: 'status', status: 'aborted', reason: detail });
  return { ...d, updatedAt: now, status: 'aborted', abortReason: reason, detail };
}

function expireTimeouts(d: Draft, now: number): void {
  for (const id of d.order) {
    const e = d.terminals[id]!;
    if (isInFlight(e.status) && now - e.updatedAt >= d.plan.terminalTimeoutMs) setTerminal(d, id, { status: 'failed', reason: 'timeout' }, now);
  }
}

/** Runs timeouts, the failure threshold, phase advancement and starts for an active or paused rollout. */
function evaluate(d: Draft, status: 'active' | 'paused', paused: RolloutState | undefined, now: number, effects: RolloutEffect[]): RolloutState {
  expireTimeouts(d, now);
  const tripped = failureTripped(d);
  if (tripped !== undefined) return abort(d, 'failure-threshold', tripped, now, effects);
  if (status === 'paused') return { ...(paused as RolloutState & { status: 'paused' }), ...d, updatedAt: now };
  d.recentStarts = d.recentStarts.filter((t) => t > now - 60_000);
  for (let guard = 0; guard <= d.plan.phases.length + 1; guard++) {
    const c = countRollout(d);
    const cap = phaseCap(d.plan, d.phaseIndex, c.total);
    // Start what the phase and the rate allow; ineligible terminals are skipped without using the budget.
    let budget = Math.min(d.plan.ratePerMinute - d.recentStarts.length, cap - c.started);
    for (const id of d.order) {
      if (budget <= 0) break;
      const e = d.terminals[id]!;
      if (e.status !== 'pending') continue;
      const why = ineligibleReason(d.plan, e.version);
      if (why !== undefined) {
        setTerminal(d, id, { status: 'skipped', reason: why }, now);
        continue;
      }
      setTerminal(d, id, { status: 'notified', phase: d.phaseIndex, startedAt: now, reason: null }, now);
      d.recentStarts.push(now);
      effects.push({ type: 'notify', terminalId: id, jobId: d.plan.id });
      budget--;
    }
    const after = countRollout(d);
    const inFlight = after.byStatus.notified + after.byStatus.downloading + after.byStatus.installing + after.byStatus['health-check'];
    const phaseFull = after.started >= cap || after.byStatus.pending === 0;
    if (!phaseFull || inFlight > 0) break;
    // The phase is done: judge it.
    let succeeded = 0;
    let finished = 0;
    for (const id of d.order) {
      const e = d.terminals[id]!;
      if (e.phase !== d.phaseIndex) continue;
      if (e.status === 'succeeded') succeeded++;
      if (isFinished(e.status)) finished++;
    }
    const ratio = finished === 0 ? 1 : succeeded / finished;
    if (ratio < d.plan.successThreshold && d.approvedPhase !== d.phaseIndex) {
      const detail = `phase ${d.phaseIndex + 1}: ${succeeded}/${finished} succeeded, below ${d.plan.successThreshold}`;
      effects.push({ type: 'status', status: 'paused', reason: detail });
      return { ...d, updatedAt: now, status: 'paused', pauseReason: 'success-threshold', detail };
    }
    if (d.phaseIndex >= d.plan.phases.length - 1) {
      if (after.byStatus.pending > 0) break;
      effects.push({ type: 'status', status: 'completed', reason: `${after.byStatus.succeeded} succeeded, ${after.byStatus.skipped} skipped, ${after.failures} failed` });
      return { ...d, updatedAt: now, status: 'completed' };
    }
    d.phaseIndex++;
  }
  return { ...d, updatedAt: now, status: 'active' };
}

/**
 * Steps a rollout. Pure: the same state, event and time always give the same result.
 * Progress for unknown or unstarted terminals and backward progress are ignored (idempotent
 * under retransmission); an aborted or completed rollout never starts anyone again.
 */
export function step(state: RolloutState, event: RolloutEvent, now: number): StepResult {
  const effects: RolloutEffect[] = [];
  const d = draftOf(state);
  const open = state.status === 'active' || state.status === 'paused';

  switch (event.type) {
    case 'tick':
      if (!open) return { state, effects };
      break;
    case 'progress': {
      const e = d.terminals[event.terminalId];
      if (e === undefined || e.phase === null || !isInFlight(e.status) || RANK[event.status] < RANK[e.status]) return { state, effects };
      setTerminal(d, event.terminalId, { status: event.status, reason: event.status === 'failed' || event.status === 'rolled-back' ? (event.reason ?? event.status) : null }, now);
      if (!open) return { state: { ...state, ...d, updatedAt: now } as RolloutState, effects };
      break;
    }
    case 'add-target':
    case 'version': {
      const e = d.terminals[event.terminalId];
      if (e !== undefined) {
        if (event.version !== null && e.version !== event.version) setTerminal(d, event.terminalId, { version: event.version }, now);
        else return { state, effects };
      } else {
        if (event.type === 'version' || !open) return { state, effects };
        d.terminals[event.terminalId] = { id: event.terminalId, status: 'pending', version: event.version, phase: null, startedAt: null, updatedAt: now, reason: null };
        d.order.push(event.terminalId);
      }
      if (!open) return { state: { ...state, ...d, updatedAt: now } as RolloutState, effects };
      break;
    }
    case 'pause':
      if (state.status !== 'active') return { state, effects };
      effects.push({ type: 'status', status: 'paused', reason: 'paused by an operator' });
      return { state: { ...d, updatedAt: now, status: 'paused', pauseReason: 'manual', detail: 'paused by an operator' }, effects };
    case 'resume':
      if (state.status !== 'paused') return { state, effects };
      if (state.pauseReason === 'success-threshold') d.approvedPhase = state.phaseIndex;
      effects.push({ type: 'status', status: 'active', reason: 'resumed by an operator' });
      return { state: evaluate(d, 'active', undefined, now, effects), effects };
    case 'abort':
      if (!open) return { state, effects };
      return { state: abort(d, 'manual', event.reason ?? 'aborted by an operator', now, effects), effects };
  }
  return { state: evaluate(d, state.status as 'active' | 'paused', state, now, effects), effects };
}
