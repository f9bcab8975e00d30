/**
 * The fleet uplink connection state machine, pure: `step(state, event, env)` returns the next
 * state and the effects the agent must perform. Time (`env.now`) and jitter (`env.random`) are
 * injected, so tests are deterministic. Every connection gets a new epoch (strictly increasing,
 * at least the connect time in ms); on every connect the agent subscribes, publishes the birth
 * and reconciles; at most one outbox batch is in flight and it is resent from the oldest
 * unacknowledged record when no ack arrives in time or after a reconnect.
 */

export interface UplinkPolicy {
  /** First reconnect delay (ms). */
  readonly backoffBaseMs: number;
  /** Largest reconnect delay (ms). */
  readonly backoffMaxMs: number;
  /** Resend the in-flight batch when no ack arrived within this time (ms). */
  readonly ackTimeoutMs: number;
}

export const DEFAULT_UPLINK_POLICY: UplinkPolicy = { backoffBaseMs: 500, backoffMaxMs: 60_000, ackTimeoutMs: 30_000 };

export type UplinkState =
  | { readonly kind: 'idle'; readonly lastEpoch: number }
  | { readonly kind: 'connecting'; readonly epoch: number; readonly attempt: number }
  | { readonly kind: 'online'; readonly epoch: number; readonly inflight: { readonly deadline: number } | undefined }
  | { readonly kind: 'backoff'; readonly lastEpoch: number; readonly attempt: number; readonly until: number }
  | { readonly kind: 'stopped'; readonly lastEpoch: number };

export type UplinkEvent =
  | { readonly type: 'start' }
  | { readonly type: 'connected' }
  /** The connection attempt failed or the connection closed. */
  | { readonly type: 'disconnected' }
  /** The outbox has records that are not in flight. */
  | { readonly type: 'pending' }
  /** A batch was published (QoS 1) — `sent: false` when the outbox had nothing. */
  | { readonly type: 'batch-sent'; readonly sent: boolean }
  /** `down/ack` processed (outbox compacted). */
  | { readonly type: 'acked' }
  | { readonly type: 'timer' }
  | { readonly type: 'stop' };

export type UplinkEffect =
  | { readonly type: 'connect'; readonly epoch: number }
  /** Subscribe, publish the birth with this epoch, reconcile config/hotlist/keys/jobs. */
  | { readonly type: 'session-start'; readonly epoch: number }
  | { readonly type: 'send-batch' }
  | { readonly type: 'set-timer'; readonly at: number }
  | { readonly type: 'close' };

export interface UplinkEnv {
  readonly now: number;
  /** Uniform in [0, 1), for jitter. */
  readonly random: number;
  readonly policy: UplinkPolicy;
}

export interface UplinkStep {
  readonly state: UplinkState;
  readonly effects: readonly UplinkEffect[];
}

export const INITIAL_UPLINK_STATE: UplinkState = { kind: 'idle', lastEpoch: 0 };

/** Reconnect delay after `attempt` consecutive failures: exponential, capped, jittered to 50–100 %. */
export function backoffDelay(attempt: number, random: number, policy: UplinkPolicy): number {
  const raw = Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(raw * (0.5 + 0.5 * Math.min(Math.max(random, 0), 1)));
}

function nextEpoch(last: number, now: number): number {
  return Math.max(last + 1, Math.floor(now));
}

function epochOf(s: UplinkState): number {
  return s.kind === 'connecting' || s.kind === 'online' ? s.epoch : s.lastEpoch;
}

/** The transition function. Events that do not apply in a state leave it unchanged. */
export function step(state: UplinkState, event: UplinkEvent, env: UplinkEnv): UplinkStep {
  const same: UplinkStep = { state, effects: [] };
  if (event.type === 'stop') {
    if (state.kind === 'stopped') return same;
    return { state: { kind: 'stopped', lastEpoch: epochOf(state) }, effects: state.kind === 'connecting' || state.kind === 'online' ? [{ type: 'close' }] : [] };
  }
  switch (state.kind) {
    case 'idle': {
      if (event.type !== 'start') return same;
      const epoch = nextEpoch(state.lastEpoch, env.now);
      return { state: { kind: 'connecting', epoch, attempt: 0 }, effects: [{ type: 'connect', epoch }] };
    }
    case 'connecting': {
      if (event.type === 'connected') {
        // [fleet-protocol §8] subscribe, birth, reconcile, then resend from the oldest unacked.
        return { state: { kind: 'online', epoch: state.epoch, inflight: undefined }, effects: [{ type: 'session-start', epoch: state.epoch }] };
      }
      if (event.type === 'disconnected') {
        const until = env.now + backoffDelay(state.attempt, env.random, env.policy);
        return { state: { kind: 'backoff', lastEpoch: state.epoch, attempt: state.attempt + 1, until }, effects: [{ type: 'set-timer', at: until }] };
      }
      return same;
    }
    case 'online': {
      switch (event.type) {
        case 'disconnected': {
          const until = env.now + backoffDelay(0, env.random, env.policy);
          return { state: { kind: 'backoff', lastEpoch: state.epoch, attempt: 1, until }, effects: [{ type: 'set-timer', at: until }] };
        }
        case 'pending':
          if (state.inflight !== undefined) return same;
          return { state: { ...state, inflight: { deadline: env.now + env.policy.ackTimeoutMs } }, effects: [{ type: 'send-batch' }] };
        case 'batch-sent':
          if (!event.sent) return { state: { ...state, inflight: undefined }, effects: [] };
          return { state, effects: [{ type: 'set-timer', at: state.inflight?.deadline ?? env.now + env.policy.ackTimeoutMs }] };
        case 'acked':
          // The next batch (if any) goes out right away; the agent reports `batch-sent {sent:false}` when empty.
          return { state: { ...state, inflight: { deadline: env.now + env.policy.ackTimeoutMs } }, effects: [{ type: 'send-batch' }] };
        case 'timer':
          if (state.inflight !== undefined && env.now >= state.inflight.deadline) {
            return { state: { ...state, inflight: { deadline: env.now + env.policy.ackTimeoutMs } }, effects: [{ type: 'send-batch' }] };
          }
          return same;
        default:
          return same;
      }
    }
    case 'backoff': {
      if (event.type !== 'timer' || env.now < state.until) return same;
      const epoch = nextEpoch(state.lastEpoch, env.now);
      return { state: { kind: 'connecting', epoch, attempt: state.attempt }, effects: [{ type: 'connect', epoch }] };
    }
    case 'stopped':
      return same;
  }
}
