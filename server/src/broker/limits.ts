/**
 * The broker's resource limits and the pure decisions over them: which new connection is admitted
 * (total, per address, not yet authenticated), and how the process's file descriptors are split
 * between the MQTT listener, the HTTP listener and everything else, so that a flood of MQTT sockets
 * can never take the HTTP API (health checks, admins, terminals' document fetches) down with it.
 */
import { MAX_FLEET_PAYLOAD } from '@onecard/protocol/fleet';
import type { PacketLimits } from './packet-gate.ts';

export interface BrokerLimits extends PacketLimits {
  /** Connections the MQTT listener holds at most (`net.Server#maxConnections`). */
  readonly maxConnections: number;
  /** Connections from one address (a site behind one NAT holds many terminals). */
  readonly maxPerAddress: number;
  /** Connections not yet authenticated, in total. */
  readonly maxPending: number;
  /** Connections not yet authenticated, per address. */
  readonly maxPendingPerAddress: number;
  /** A connection must be authenticated (CONNACK sent) this long after it was accepted. */
  readonly connectDeadlineMs: number;
  /** Uplink bytes of one terminal being processed (received, not yet acknowledged). */
  readonly maxInflightBytes: number;
  /** Downlink bytes queued for one terminal's socket (written, not yet taken by the kernel). */
  readonly maxQueuedBytes: number;
  /** Subscriptions one connection may hold (a terminal needs two: its `down/#` and the broadcast). */
  readonly maxSubscriptions: number;
  /**
   * Largest keep-alive a CONNECT may ask for, in seconds; 0 (no keep-alive) is refused too, so a
   * half-open connection is reaped within 1.5 × this. [MQTT-3.1.2-24]
   */
  readonly maxKeepaliveSeconds: number;
  /**
   * Whether the per-address caps apply to loopback peers. Off by default: behind a TLS terminator
   * or proxy on the same host (docs/deploy.md) every terminal arrives from loopback, as do local
   * load tests; the totals still apply to them.
   */
  readonly perAddressCapsOnLoopback: boolean;
}

export const DEFAULT_BROKER_LIMITS: BrokerLimits = {
  maxConnectBytes: 4096,
  // 2-byte topic length + the longest fleet topic (t/{64}/up/jobs/{64} = 141) + packet id, rounded up.
  maxPublishBytes: MAX_FLEET_PAYLOAD + 512,
  maxOtherBytes: 4096,
  maxPreAuthBytes: 16 * 1024,
  maxConnections: 20_000,
  maxPerAddress: 2_000,
  maxPending: 1_000,
  maxPendingPerAddress: 32,
  connectDeadlineMs: 10_000,
  maxInflightBytes: 4 * MAX_FLEET_PAYLOAD,
  maxQueuedBytes: 4 * MAX_FLEET_PAYLOAD,
  maxSubscriptions: 16,
  maxKeepaliveSeconds: 3600,
  perAddressCapsOnLoopback: false,
};

/** Connections currently held, as the admission decision sees them. */
export interface ConnectionCounts {
  readonly total: number;
  readonly pending: number;
  readonly fromAddress: number;
  readonly pendingFromAddress: number;
}

export type AdmissionRefusal = 'too-many-connections' | 'too-many-from-address' | 'too-many-pending' | 'too-many-pending-from-address';

export type Admission = { readonly ok: true } | { readonly ok: false; readonly reason: AdmissionRefusal };

/** Decides whether one more (not yet authenticated) connection from an address is admitted. */
export function admitConnection(c: ConnectionCounts, l: Pick<BrokerLimits, 'maxConnections' | 'maxPerAddress' | 'maxPending' | 'maxPendingPerAddress'>, perAddressCaps = true): Admission {
  if (c.total >= l.maxConnections) return { ok: false, reason: 'too-many-connections' };
  if (perAddressCaps && c.fromAddress >= l.maxPerAddress) return { ok: false, reason: 'too-many-from-address' };
  if (c.pending >= l.maxPending) return { ok: false, reason: 'too-many-pending' };
  if (perAddressCaps && c.pendingFromAddress >= l.maxPendingPerAddress) return { ok: false, reason: 'too-many-pending-from-address' };
  return { ok: true };
}

/** True for an IPv4 (also IPv4-mapped) or IPv6 loopback address. */
export function isLoopbackAddress(address: string): boolean {
  return address === '::1' || /^(::ffff:)?127\./.test(address);
}

export interface DescriptorBudget {
  readonly mqtt: number;
  readonly http: number;
  /** True when the wanted budgets did not fit the process limit and were reduced. */
  readonly reduced: boolean;
}

/** Descriptors kept for the store, files, Redis/PostgreSQL pools, logs and the listeners themselves. */
export const DESCRIPTOR_RESERVE = 256;

/**
 * Splits the process's open-file limit between the two listeners. HTTP is served first (it is
 * small and is what operators need when MQTT is flooded), MQTT gets what remains; with an unknown
 * limit (`undefined`, not Linux) the wanted values stand.
 */
export function splitDescriptors(limit: number | undefined, want: { readonly mqtt: number; readonly http: number }, reserve = DESCRIPTOR_RESERVE): DescriptorBudget {
  if (limit === undefined || !Number.isFinite(limit) || want.mqtt + want.http + reserve <= limit) return { mqtt: want.mqtt, http: want.http, reduced: false };
  const usable = Math.max(2, limit - reserve);
  const http = Math.max(1, Math.min(want.http, Math.floor(usable / 4)));
  const mqtt = Math.max(1, Math.min(want.mqtt, usable - http));
  return { mqtt, http, reduced: true };
}

/** The soft `Max open files` of `/proc/self/limits` text, or `undefined` (unlimited or absent). */
export function parseOpenFileLimit(procLimits: string): number | undefined {
  const m = /^Max open files\s+(\S+)/m.exec(procLimits);
  if (m === null || m[1] === 'unlimited') return undefined;
  const n = Number(m[1]);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}
