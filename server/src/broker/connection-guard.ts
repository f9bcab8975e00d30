/**
 * The front door of the embedded broker: every accepted MQTT socket passes here before aedes sees
 * it. The guard admits or closes it (`limits.ts` decides), puts a {@link PacketGate} in front of the
 * packet parser, closes a connection that is not authenticated within the CONNECT deadline or that
 * sends more than its pre-authentication budget, and keeps the counts per address. aedes reads its
 * sockets only through `read()`, so the gate wraps that one method: each chunk is inspected before
 * mqtt-packet appends it to its buffer, and a refused chunk is never handed over.
 */
import type { Socket } from 'node:net';
import { PacketGate, type GateRefusal } from './packet-gate.ts';
import { admitConnection, isLoopbackAddress, type AdmissionRefusal, type BrokerLimits } from './limits.ts';

export type GuardRefusal = AdmissionRefusal | GateRefusal | 'connect-deadline';

interface Tracked {
  readonly address: string;
  readonly gate: PacketGate;
  pending: boolean;
  timer: NodeJS.Timeout | undefined;
}

export interface GuardStats {
  /** Connections held now. */
  readonly open: number;
  /** Of which not yet authenticated. */
  readonly pending: number;
  /** Distinct addresses with connections. */
  readonly addresses: number;
  /**
   * Largest number of bytes the server held for one connection's incomplete inbound packet
   * (bytes handed to the parser for that packet plus bytes waiting in the socket's buffer), since
   * the guard started.
   */
  readonly peakBufferedBytes: number;
  /** Sum of those bytes over the connections held now. */
  readonly bufferedBytes: number;
}

export interface ConnectionGuardOptions {
  readonly limits: BrokerLimits;
  /** Called for each connection the guard closes. */
  readonly onRefuse: (reason: GuardRefusal, address: string) => void;
}

export class ConnectionGuard {
  readonly #limits: BrokerLimits;
  readonly #onRefuse: (reason: GuardRefusal, address: string) => void;
  readonly #sockets = new Map<Socket, Tracked>();
  readonly #perAddress = new Map<string, { total: number; pending: number }>();
  #pending = 0;
  #peak = 0;

  constructor(o: ConnectionGuardOptions) {
    this.#limits = o.limits;
    this.#onRefuse = o.onRefuse;
  }

  /**
   * Admits `socket` and hands it to `handle` (aedes), or closes it. Returns whether it was admitted.
   */
  accept(socket: Socket, handle: (socket: Socket) => void): boolean {
    const address = socket.remoteAddress ?? 'unknown';
    const counts = this.#perAddress.get(address) ?? { total: 0, pending: 0 };
    const perAddress = this.#limits.perAddressCapsOnLoopback || !isLoopbackAddress(address);
    const verdict = admitConnection({ total: this.#sockets.size, pending: this.#pending, fromAddress: counts.total, pendingFromAddress: counts.pending }, this.#limits, perAddress);
    if (!verdict.ok) {
      socket.destroy();
      this.#onRefuse(verdict.reason, address);
      return false;
    }
    const tracked: Tracked = { address, gate: new PacketGate(this.#limits), pending: true, timer: undefined };
    this.#sockets.set(socket, tracked);
    this.#perAddress.set(address, { total: counts.total + 1, pending: counts.pending + 1 });
    this.#pending++;
    tracked.timer = setTimeout(() => this.#refuse(socket, tracked, 'connect-deadline'), this.#limits.connectDeadlineMs);
    tracked.timer.unref();
    socket.once('close', () => this.#forget(socket));
    const read = socket.read.bind(socket);
    socket.read = (size?: number): unknown => {
      const chunk = read(size) as unknown;
      if (chunk === null || !(chunk instanceof Uint8Array)) return chunk;
      const v = tracked.gate.push(chunk);
      if (!v.ok) {
        this.#refuse(socket, tracked, v.reason);
        return null;
      }
      const held = tracked.gate.partialBytes + socket.readableLength;
      if (held > this.#peak) this.#peak = held;
      return chunk;
    };
    handle(socket);
    return true;
  }

  /** The CONNECT on `socket` was accepted: it no longer counts as pending. */
  authenticated(socket: Socket): void {
    const t = this.#sockets.get(socket);
    if (t === undefined || !t.pending) return;
    t.gate.authenticated();
    this.#settle(t);
  }

  stats(): GuardStats {
    let buffered = 0;
    for (const [s, t] of this.#sockets) buffered += t.gate.partialBytes + s.readableLength;
    return { open: this.#sockets.size, pending: this.#pending, addresses: this.#perAddress.size, peakBufferedBytes: this.#peak, bufferedBytes: buffered };
  }

  /** Closes every connection still held (shutdown). */
  closeAll(): void {
    for (const s of [...this.#sockets.keys()]) s.destroy();
  }

  #refuse(socket: Socket, t: Tracked, reason: GuardRefusal): void {
    if (socket.destroyed) return;
    socket.destroy();
    this.#onRefuse(reason, t.address);
  }

  #settle(t: Tracked): void {
    t.pending = false;
    if (t.timer !== undefined) clearTimeout(t.timer);
    t.timer = undefined;
    this.#pending--;
    const c = this.#perAddress.get(t.address);
    if (c !== undefined) c.pending--;
  }

  #forget(socket: Socket): void {
    const t = this.#sockets.get(socket);
    if (t === undefined) return;
    if (t.pending) this.#settle(t);
    this.#sockets.delete(socket);
    const c = this.#perAddress.get(t.address);
    if (c === undefined) return;
    c.total--;
    if (c.total <= 0) this.#perAddress.delete(t.address);
  }
}
