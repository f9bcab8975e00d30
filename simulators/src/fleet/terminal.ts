/**
 * One lightweight simulated terminal speaking the OneCard fleet protocol over one `mqtt` client:
 * connects as itself (client id = username = terminal id) with a Last Will on `up/death`,
 * subscribes to its downlink and the broadcast tree, publishes a birth carrying its connection
 * epoch, sends outbox records in QoS 1 batches and forgets them only when `down/ack {upToSeq}`
 * covers them (everything unacknowledged is sent again after a reconnect), publishes telemetry,
 * and applies configuration: a retained `down/config` pointer carries the document inline (its
 * birth `accepts` `config-body`) or makes it fetch the document over HTTP; either way it verifies
 * the SHA-256 and schema and reports `applied` or `rejected` on `up/config/status`.
 * Holds a hotlist: the retained `fleet/broadcast/hotlist/delta` applies directly when the terminal
 * is at its `fromVersion`; otherwise the retained `fleet/broadcast/hotlist` pointer `{v, version}`
 * makes it fetch `GET /api/v1/terminal/hotlist?since=N` and apply the delta (or full list) to its
 * card set, which {@link SimTerminal.refuses} consults. `legacy: true` simulates a terminal that
 * predates both (pointer and HTTP only).
 */
import { connect, type MqttClient } from 'mqtt';
import {
  decodeFleetMessage, encodeFleetMessage, upTopic, downTopic, validateTerminalConfig, HOTLIST_DELTA_TOPIC, HOTLIST_POINTER_TOPIC,
  type FleetMessage, type OutboxRecordMessage,
} from '@onecard/protocol/fleet';
import { isProtocolError } from '@onecard/protocol/errors';
import { SimulatorError } from '../errors.ts';
import { configFromBytes, fetchConfigDocument, fetchHotlist, type FetchedHotlist, type FleetHttp, type TerminalCredentials } from './http.ts';

export type SimTerminalEvent =
  | { readonly type: 'connected'; readonly terminalId: string; readonly epoch: number; readonly reconnect: boolean }
  | { readonly type: 'disconnected'; readonly terminalId: string }
  | { readonly type: 'birth'; readonly terminalId: string; readonly epoch: number }
  | { readonly type: 'config'; readonly terminalId: string; readonly version: number; readonly status: 'applied' | 'rejected'; readonly code?: string; readonly via?: 'inline' | 'http' }
  | { readonly type: 'hotlist'; readonly terminalId: string; readonly version: number; readonly kind: 'delta' | 'full'; readonly size: number; readonly via?: 'broadcast' | 'http' }
  | { readonly type: 'acked'; readonly terminalId: string; readonly upToSeq: number; readonly records: number }
  | { readonly type: 'published'; readonly terminalId: string; readonly records: number; readonly retransmit: boolean }
  | { readonly type: 'telemetry'; readonly terminalId: string }
  | { readonly type: 'down'; readonly terminalId: string; readonly kind: string }
  | { readonly type: 'error'; readonly terminalId: string; readonly code: string; readonly message: string };

/** Running totals of one simulated terminal. */
export interface SimTerminalCounters {
  eventsQueued: number;
  eventsAcked: number;
  /** Records sent again after a reconnect because no ack covered them. */
  retransmitted: number;
  telemetry: number;
  reconnects: number;
}

export interface SimTerminalOptions {
  readonly credentials: TerminalCredentials;
  readonly http: FleetHttp;
  readonly kind?: string;
  readonly software?: string;
  readonly keepaliveSeconds?: number;
  /** Delay before reconnecting after an unexpected close; 0 disables reconnecting. Default 1000. */
  readonly reconnectDelayMs?: number;
  /** Largest number of records per `up/events` batch. Default 100. */
  readonly batchSize?: number;
  readonly now?: () => number;
  readonly onEvent?: (e: SimTerminalEvent) => void;
  /** Behave like a terminal that predates inline documents and hotlist deltas (HTTP only); see {@link SimTerminal.legacy}. */
  readonly legacy?: boolean;
}

interface AckWaiter {
  readonly seq: number;
  readonly resolve: () => void;
}

const enc = (kind: Parameters<typeof encodeFleetMessage>[0], msg: unknown): Buffer => {
  const bytes = encodeFleetMessage(kind, msg as never);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
};

export class SimTerminal {
  readonly id: string;
  readonly #opts: SimTerminalOptions;
  readonly #now: () => number;
  #client: MqttClient | undefined;
  #epoch = 0;
  #connects = 0;
  #closed = false;
  #seq: number;
  /** Unacknowledged records in seq order. */
  #outbox: OutboxRecordMessage[] = [];
  /** Records of the outbox already published on the current connection. */
  #sentOnConnection = 0;
  #configVersion = 0;
  #configSha = '';
  #configChain: Promise<void> = Promise.resolve();
  /** Listed card numbers, at {@link SimTerminal.hotlistVersion}. */
  readonly #hotlist = new Set<string>();
  #hotlistVersion = 0;
  /** Newest pointer version seen; fetches are serialised and skipped when already current. */
  #hotlistWanted = 0;
  #hotlistChain: Promise<void> = Promise.resolve();
  #ackWaiters: AckWaiter[] = [];
  #reconnectTimer: NodeJS.Timeout | undefined;
  #counters: SimTerminalCounters = { eventsQueued: 0, eventsAcked: 0, retransmitted: 0, telemetry: 0, reconnects: 0 };
  #legacy: boolean;

  constructor(opts: SimTerminalOptions) {
    this.#opts = opts;
    this.#legacy = opts.legacy === true;
    this.id = opts.credentials.terminalId;
    this.#now = opts.now ?? Date.now;
    // Seqs start from the clock so a restarted simulator never reuses an acknowledged seq.
    this.#seq = this.#now();
  }

  /**
   * Legacy behaviour: the birth does not accept `config-body`, an inline document is ignored (the
   * document is fetched over HTTP) and the broadcast hotlist change is ignored (the pointer makes
   * it fetch). Switchable while connected, so a bench measures both paths on one fleet; the birth
   * follows on the next connection.
   */
  get legacy(): boolean {
    return this.#legacy;
  }

  set legacy(on: boolean) {
    this.#legacy = on;
  }

  get connected(): boolean {
    return this.#client?.connected === true;
  }

  get epoch(): number {
    return this.#epoch;
  }

  get configVersion(): number {
    return this.#configVersion;
  }

  /** Hotlist version this terminal has applied (0 = empty). */
  get hotlistVersion(): number {
    return this.#hotlistVersion;
  }

  /** Number of cards on this terminal's hotlist. */
  get hotlistSize(): number {
    return this.#hotlist.size;
  }

  /** True when this terminal would refuse `cardNumber` (it is on its hotlist). */
  refuses(cardNumber: string): boolean {
    return this.#hotlist.has(cardNumber);
  }

  get pending(): number {
    return this.#outbox.length;
  }

  #emit(e: SimTerminalEvent): void {
    this.#opts.onEvent?.(e);
  }

  /**
   * Connects, subscribes, publishes the birth and re-sends every unacknowledged record.
   * @throws SimulatorError `SIM_ERR_FLEET_CONNECT` (details.returnCode for CONNACK refusals)
   */
  async connect(): Promise<void> {
    if (this.#closed) throw new SimulatorError('SIM_ERR_FLEET_CONNECT', `${this.id}: closed`);
    const cred = this.#opts.credentials;
    const epoch = Math.max(this.#now(), this.#epoch + 1);
    this.#epoch = epoch;
    const client = connect(cred.mqttUrl, {
      clientId: cred.terminalId,
      username: cred.terminalId,
      password: cred.password,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 30_000,
      keepalive: this.#opts.keepaliveSeconds ?? 60,
      will: { topic: upTopic(this.id, 'death'), payload: enc('death', { v: 1, epoch }), qos: 1, retain: false },
    });
    this.#client = client;
    await new Promise<void>((resolve, reject) => {
      const onErr = (err: Error): void => {
        client.removeListener('connect', onOk);
        client.end(true);
        const rc = (err as { code?: unknown }).code;
        reject(new SimulatorError('SIM_ERR_FLEET_CONNECT', `${this.id}: ${err.message}`, typeof rc === 'number' ? { returnCode: rc } : {}, { cause: err }));
      };
      const onClose = (): void => onErr(new Error('connection closed before CONNACK'));
      const onOk = (): void => {
        client.removeListener('error', onErr);
        client.removeListener('close', onClose);
        resolve();
      };
      client.once('connect', onOk);
      client.once('error', onErr);
      client.once('close', onClose);
    });
    const reconnect = this.#connects++ > 0;
    if (reconnect) this.#counters.reconnects++;
    client.on('message', (topic, payload) => this.#onMessage(topic, payload));
    client.on('error', (err) => this.#emit({ type: 'error', terminalId: this.id, code: 'SIM_ERR_FLEET_CONNECT', message: err.message }));
    client.once('close', () => this.#onClose(client));
    this.#emit({ type: 'connected', terminalId: this.id, epoch, reconnect });
    await client.subscribeAsync({ [`t/${this.id}/down/#`]: { qos: 1 }, 'fleet/broadcast/#': { qos: 1 } });
    await client.publishAsync(upTopic(this.id, 'birth'), enc('birth', {
      v: 1, epoch, ts: this.#now(),
      versions: { software: this.#opts.software ?? 'onecard-sim/0.1.0', config: this.#configVersion, keys: 0, hotlist: this.#hotlistVersion },
      readers: [{ id: 'front', link: 'serial', status: 'ok', card: false, psam: true }],
      kind: this.#opts.kind ?? 'kiosk',
      ...(this.#legacy ? {} : { accepts: ['config-body'] }),
    }), { qos: 1 });
    this.#emit({ type: 'birth', terminalId: this.id, epoch });
    this.#sentOnConnection = 0;
    this.#flush();
  }

  #onClose(client: MqttClient): void {
    if (this.#client !== client) return;
    this.#emit({ type: 'disconnected', terminalId: this.id });
    const delay = this.#opts.reconnectDelayMs ?? 1_000;
    if (this.#closed || delay <= 0) return;
    const retry = (attempt: number): void => {
      this.#reconnectTimer = setTimeout(() => {
        this.#reconnectTimer = undefined;
        if (this.#closed) return;
        this.connect().catch((err: unknown) => {
          const e = err as SimulatorError;
          this.#emit({ type: 'error', terminalId: this.id, code: e.code ?? 'SIM_ERR_FLEET_CONNECT', message: e.message });
          // CONNACK 4/5 (credentials refused, disabled): stop rather than hammer the server.
          if (typeof e.details?.['returnCode'] === 'number') return;
          retry(attempt + 1);
        });
      }, Math.min(30_000, delay * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random() / 2));
    };
    retry(0);
  }

  #onMessage(topic: string, payload: Buffer): void {
    const prefix = `t/${this.id}/down/`;
    const kind = topic.startsWith(prefix) ? topic.slice(prefix.length) : topic.startsWith('fleet/broadcast/') ? 'broadcast' : 'other';
    try {
      if (kind === 'ack') return this.#onAck(decodeFleetMessage('ack', payload));
      if (kind === 'config') {
        if (payload.length === 0) return; // retained pointer cleared: nothing assigned
        const ptr = decodeFleetMessage('config', payload);
        this.#configChain = this.#configChain.then(() => this.#applyConfig(ptr));
        return;
      }
      if (topic === HOTLIST_POINTER_TOPIC) {
        if (payload.length === 0) return; // retained pointer cleared
        const ptr = decodeFleetMessage('hotlist', payload);
        this.#hotlistWanted = ptr.version; // one retained topic, QoS 1: pointers arrive in order
        this.#hotlistChain = this.#hotlistChain.then(() => this.#syncHotlist());
        return;
      }
      if (topic === HOTLIST_DELTA_TOPIC && !this.#legacy) {
        if (payload.length === 0) return;
        const d = decodeFleetMessage('hotlist/delta', payload);
        if (d.version > this.#hotlistWanted) this.#hotlistWanted = d.version;
        this.#hotlistChain = this.#hotlistChain.then(() => {
          // [fleet-protocol §6] only a terminal at `fromVersion` applies the broadcast change.
          if (this.#hotlistVersion === d.fromVersion) this.#applyHotlist({ kind: 'delta', fromVersion: d.fromVersion, version: d.version, add: d.add, remove: d.remove }, 'broadcast');
          return this.#syncHotlist();
        });
        return;
      }
      this.#emit({ type: 'down', terminalId: this.id, kind });
    } catch (err) {
      const code = isProtocolError(err) ? err.code : 'SIM_ERR_FLEET_CONFIG';
      this.#emit({ type: 'error', terminalId: this.id, code, message: `${topic}: ${(err as Error).message}` });
    }
  }

  #onAck(ack: FleetMessage<'ack'>): void {
    let n = 0;
    while (n < this.#outbox.length && this.#outbox[n]!.seq <= ack.upToSeq) n++;
    if (n > 0) this.#outbox.splice(0, n);
    this.#sentOnConnection = Math.max(0, this.#sentOnConnection - n);
    this.#counters.eventsAcked += n;
    this.#emit({ type: 'acked', terminalId: this.id, upToSeq: ack.upToSeq, records: n });
    const still: AckWaiter[] = [];
    for (const w of this.#ackWaiters) {
      if (w.seq <= ack.upToSeq) w.resolve();
      else still.push(w);
    }
    this.#ackWaiters = still;
  }

  async #applyConfig(ptr: FleetMessage<'config'>): Promise<void> {
    if (ptr.version === this.#configVersion && ptr.sha256 === this.#configSha) return;
    let status: FleetMessage<'config/status'>;
    let lastErr: unknown;
    const inline = ptr.body !== undefined && !this.#legacy;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const doc = inline
          ? configFromBytes(Buffer.from(ptr.body!, 'utf8'), ptr.version, ptr.sha256)
          : await fetchConfigDocument(this.#opts.http, this.#opts.credentials, ptr.version, ptr.sha256);
        validateTerminalConfig(doc.document);
        lastErr = undefined;
        break;
      } catch (err) {
        lastErr = err;
        // Only transport problems are worth another try; a wrong digest or schema is final.
        if (!(err instanceof SimulatorError && err.details['reason'] === 'http')) break;
        await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
      }
    }
    if (lastErr === undefined) {
      this.#configVersion = ptr.version;
      this.#configSha = ptr.sha256;
      status = { v: 1, version: ptr.version, status: 'applied' };
    } else {
      const e = lastErr as { code?: string; message?: string };
      status = { v: 1, version: ptr.version, status: 'rejected', error: { code: (e.code ?? 'SIM_ERR_FLEET_CONFIG').slice(0, 64), message: String(e.message ?? lastErr).slice(0, 1024) } };
    }
    const client = this.#client;
    if (client === undefined || !client.connected) return; // the pointer comes again after reconnecting
    try {
      await client.publishAsync(upTopic(this.id, 'config/status'), enc('config/status', status), { qos: 1 });
      this.#emit(status.status === 'applied'
        ? { type: 'config', terminalId: this.id, version: ptr.version, status: 'applied', via: inline ? 'inline' : 'http' }
        : { type: 'config', terminalId: this.id, version: ptr.version, status: 'rejected', code: status.error!.code, via: inline ? 'inline' : 'http' });
    } catch (err) {
      this.#emit({ type: 'error', terminalId: this.id, code: 'SIM_ERR_FLEET_CONNECT', message: (err as Error).message });
    }
  }

  #applyHotlist(d: FetchedHotlist, via: 'broadcast' | 'http'): void {
    if (d.kind === 'delta') {
      // [fleet-protocol §6] remove first, then add; idempotent.
      for (const c of d.remove) this.#hotlist.delete(c);
      for (const c of d.add) this.#hotlist.add(c);
    } else {
      this.#hotlist.clear();
      for (const c of d.cards) this.#hotlist.add(c);
    }
    this.#hotlistVersion = d.version;
    // A version above the pointer (a change raced the pointer) is fine: the next pointer catches up.
    if (d.version > this.#hotlistWanted) this.#hotlistWanted = d.version;
    this.#emit({ type: 'hotlist', terminalId: this.id, version: d.version, kind: d.kind, size: this.#hotlist.size, via });
  }

  /** Fetches and applies hotlist changes until this terminal holds the newest announced version. */
  async #syncHotlist(): Promise<void> {
    for (let attempt = 0; this.#hotlistVersion !== this.#hotlistWanted && !this.#closed && attempt < 3; ) {
      try {
        const before = this.#hotlistVersion;
        const d = await fetchHotlist(this.#opts.http, this.#opts.credentials, before);
        this.#applyHotlist(d, 'http');
        if (d.version === before) return; // no progress (the server is behind the pointer): wait for the next one
      } catch (err) {
        attempt++;
        const e = err as SimulatorError;
        this.#emit({ type: 'error', terminalId: this.id, code: e.code ?? 'SIM_ERR_FLEET_HOTLIST', message: e.message });
        // Only transport problems are worth another try.
        if (!(err instanceof SimulatorError && err.details['reason'] === 'http')) return;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  }

  /**
   * Appends `count` records to the outbox and sends them; resolves when all are acknowledged.
   * `body` is the record body for every record (kept small by default).
   */
  sendEvents(count: number, type = 'sim.card-read', body: Readonly<Record<string, unknown>> = { ok: true }): Promise<void> {
    const ts = this.#now();
    for (let i = 0; i < count; i++) {
      const seq = ++this.#seq;
      this.#outbox.push({ eventId: `${this.id}.${seq}`, seq, ts, type, body: { ...body } });
    }
    this.#counters.eventsQueued += count;
    const last = this.#seq;
    const done = new Promise<void>((resolve) => {
      if (this.#outbox.length === 0 || this.#outbox[0]!.seq > last) return resolve();
      this.#ackWaiters.push({ seq: last, resolve });
    });
    this.#flush();
    return done;
  }

  /** Publishes what the current connection has not carried yet, in batches. */
  #flush(): void {
    const client = this.#client;
    if (client === undefined || !client.connected) return;
    const batchSize = this.#opts.batchSize ?? 100;
    while (this.#sentOnConnection < this.#outbox.length) {
      const records = this.#outbox.slice(this.#sentOnConnection, this.#sentOnConnection + batchSize);
      const retransmit = this.#connects > 1 && records[0]!.seq <= this.#highestPublished;
      this.#sentOnConnection += records.length;
      this.#highestPublished = Math.max(this.#highestPublished, records[records.length - 1]!.seq);
      if (retransmit) this.#counters.retransmitted += records.length;
      client.publish(upTopic(this.id, 'events'), enc('events', { v: 1, records }), { qos: 1 }, (err) => {
        if (err !== undefined && err !== null) this.#emit({ type: 'error', terminalId: this.id, code: 'SIM_ERR_FLEET_CONNECT', message: `events: ${err.message}` });
      });
      this.#emit({ type: 'published', terminalId: this.id, records: records.length, retransmit });
    }
  }

  #highestPublished = 0;

  /** Publishes one telemetry message (QoS 0). */
  publishTelemetry(): void {
    const client = this.#client;
    if (client === undefined || !client.connected) return;
    client.publish(upTopic(this.id, 'tele'), enc('tele', {
      v: 1, epoch: this.#epoch, ts: this.#now(), health: 'ok',
      readers: [{ id: 'front', link: 'serial', status: 'ok', card: false, psam: true }],
      counters: { 'events.queued': this.#counters.eventsQueued, 'events.acked': this.#counters.eventsAcked, 'mqtt.reconnects': this.#counters.reconnects },
      outbox: { pending: this.#outbox.length, full: false },
    }), { qos: 0 });
    this.#counters.telemetry++;
    this.#emit({ type: 'telemetry', terminalId: this.id });
  }

  /** Drops the connection abruptly (the broker publishes the Last Will); reconnects per options. */
  dropConnection(): void {
    this.#client?.stream.destroy();
  }

  /** The down topic this terminal's config pointer arrives on. */
  get configTopic(): string {
    return downTopic(this.id, 'config');
  }

  counters(): Readonly<SimTerminalCounters> {
    return { ...this.#counters };
  }

  /** Disconnects cleanly (no Last Will) and stops reconnecting. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
    const c = this.#client;
    if (c === undefined) return;
    await new Promise<void>((resolve) => c.end(false, {}, () => resolve()));
    for (const w of this.#ackWaiters) w.resolve();
    this.#ackWaiters = [];
  }
}
