/**
 * The fleet agent: the terminal's MQTT client (docs/fleet-protocol.md). The uplink state lives
 * in the pure machine of `uplink.ts`; this file only performs its effects: connect with a Last
 * Will on `up/death`, on every connect subscribe `t/{id}/down/#` + `fleet/broadcast/#`, publish
 * the birth with a new epoch (saying it `accepts` `config-body`) and reconcile configuration and
 * hotlist by version over HTTP (never relying on the broker having kept messages), apply a
 * configuration that arrives inline in its `down/config` pointer and the broadcast hotlist change
 * (`fleet/broadcast/hotlist/delta`) when it is at that change's base version, fetching over HTTP
 * otherwise, send the outbox in batches on `up/events` (QoS 1)
 * and compact it on `down/ack {upToSeq}`, publish telemetry every N seconds, and reconnect with
 * jittered exponential backoff. Credentials never reach the logger.
 */
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';
import type { Logger } from 'pino';
import {
  assertTerminalId, decodeFleetMessage, encodeFleetMessage, downTopic, upTopic, BROADCAST_PREFIX, FLEET_SCHEMA_VERSION, MAX_FLEET_PAYLOAD, HOTLIST_DELTA_TOPIC, HOTLIST_POINTER_TOPIC,
  type TerminalConfigDocument, type OutboxRecordMessage, type ConfigFieldEffectMessage,
} from '@onecard/protocol/fleet';
import type { Static } from '@sinclair/typebox';
import type { ReaderInfo } from '@onecard/protocol/fleet';
import type { Outbox } from './outbox-types.ts';
import { FleetHttp, configFromBytes, rejectionOf, type ConfigPointerValue, type HotlistUpdate } from './fleet-http.ts';
import { DEFAULT_UPLINK_POLICY, INITIAL_UPLINK_STATE, step, type UplinkEffect, type UplinkEvent, type UplinkPolicy, type UplinkState } from './uplink.ts';

export type ReaderStatus = Static<typeof ReaderInfo>;

/** Where hotlist updates go (the card services read the same list through `Hotlist`). */
export interface HotlistSink {
  readonly version: number;
  /** Applies a delta (whose `fromVersion` equals `version`) or replaces with a full snapshot. */
  apply(update: HotlistUpdate): Promise<void>;
}

export interface FleetAgentOptions {
  readonly terminalId: string;
  readonly serverUrl: string;
  readonly mqtt: { readonly url: string; readonly clientId: string; readonly username: string; readonly password: string };
  readonly outbox: Outbox;
  readonly softwareVersion: string;
  readonly kind?: string;
  /** Versions of the keys this terminal holds (config and hotlist are tracked by the agent). */
  readonly keysVersion?: () => number;
  readonly readers?: () => readonly ReaderStatus[];
  readonly counters?: () => Readonly<Record<string, number>>;
  /** The configuration currently applied (from the runtime's last good configuration). */
  readonly currentConfig?: ConfigPointerValue;
  /**
   * Applies a validated configuration atomically; throw (coded) to reject it. What it returns
   * (per changed field, what took effect) goes into `up/config/status` as `changes`.
   */
  readonly applyConfig?: (doc: TerminalConfigDocument, pointer: ConfigPointerValue) => Promise<void | readonly ConfigFieldEffectMessage[]>;
  /**
   * A config status to publish once online (the runtime restarted for this version: the effects
   * that were pending are done now).
   */
  readonly initialConfigStatus?: { readonly version: number; readonly changes: readonly ConfigFieldEffectMessage[] };
  /** Told after every successful hotlist check (changed or not), with the clock's time. */
  readonly onHotlistChecked?: (at: number) => void;
  /** Poll the hotlist at least this often (default 15 min). */
  readonly hotlistRefreshMs?: number;
  readonly hotlist?: HotlistSink;
  /** Called for `down/jobs/notify` (keys, updates): the job runner reports on `up/jobs/{jobId}`. */
  readonly onJobNotify?: (next: { jobId: string; kind: string; version: number } | null, agent: FleetAgent) => Promise<void>;
  readonly batchSize?: number;
  readonly telemetryIntervalMs?: number;
  /** Check the outbox for unsent records at least this often (default 1000 ms). */
  readonly flushIntervalMs?: number;
  readonly policy?: Partial<UplinkPolicy>;
  readonly clock?: () => number;
  readonly random?: () => number;
  readonly logger?: Logger;
  readonly fetch?: typeof fetch;
  /** MQTT connect function (tests may wrap it). */
  readonly connect?: (url: string, opts: IClientOptions) => MqttClient;
}

/** Counters the agent exposes (also sent in telemetry). */
export interface AgentStats {
  readonly connects: number;
  readonly batchesSent: number;
  readonly acks: number;
  readonly configApplied: number;
  readonly configRejected: number;
  readonly hotlistUpdates: number;
}

/** The fleet agent; `start()` connects, `stop()` disconnects. */
export class FleetAgent {
  readonly #o: FleetAgentOptions;
  readonly #policy: UplinkPolicy;
  readonly #clock: () => number;
  readonly #random: () => number;
  readonly #http: FleetHttp;
  #state: UplinkState = INITIAL_UPLINK_STATE;
  #client: MqttClient | undefined;
  #timers = new Set<NodeJS.Timeout>();
  #intervals = new Map<'flush' | 'tele' | 'hotlist', NodeJS.Timeout>();
  #tuning: { batchSize: number; flushIntervalMs: number; telemetryIntervalMs: number; hotlistRefreshMs: number };
  #started = false;
  #initialStatus: FleetAgentOptions['initialConfigStatus'];
  #config: ConfigPointerValue | undefined;
  #configChain: Promise<void> = Promise.resolve();
  #hotlistChain: Promise<void> = Promise.resolve();
  #stats = { connects: 0, batchesSent: 0, acks: 0, configApplied: 0, configRejected: 0, hotlistUpdates: 0 };
  #listeners = new Set<() => void>();

  constructor(options: FleetAgentOptions) {
    this.#o = options;
    this.#policy = { ...DEFAULT_UPLINK_POLICY, ...(options.policy ?? {}) };
    this.#clock = options.clock ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#config = options.currentConfig;
    this.#initialStatus = options.initialConfigStatus;
    this.#tuning = {
      batchSize: options.batchSize ?? 100, flushIntervalMs: options.flushIntervalMs ?? 1000,
      telemetryIntervalMs: options.telemetryIntervalMs ?? 60_000, hotlistRefreshMs: options.hotlistRefreshMs ?? 15 * 60_000,
    };
    this.#http = new FleetHttp({ serverUrl: options.serverUrl, terminalId: options.terminalId, password: options.mqtt.password, ...(options.fetch ? { fetch: options.fetch } : {}) });
  }

  /** Current uplink state (for diagnostics and tests). */
  get state(): UplinkState { return this.#state; }
  get stats(): AgentStats { return { ...this.#stats }; }
  /** The configuration pointer last applied. */
  get config(): ConfigPointerValue | undefined { return this.#config; }

  /** Resolves when `predicate` holds (checked after every state or stats change). */
  waitFor(predicate: () => boolean): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve) => {
      const l = (): void => { if (predicate()) { this.#listeners.delete(l); resolve(); } };
      this.#listeners.add(l);
    });
  }

  #changed(): void { for (const l of [...this.#listeners]) l(); }

  start(): void {
    this.#started = true;
    this.#dispatch({ type: 'start' });
    this.#arm();
  }

  /** Current batch size and timer periods. */
  get tuning(): Readonly<{ batchSize: number; flushIntervalMs: number; telemetryIntervalMs: number; hotlistRefreshMs: number }> { return { ...this.#tuning }; }

  /**
   * Changes the batch size and timer periods at once (a live configuration change): the timers
   * are re-armed with the new periods.
   */
  retune(t: Partial<{ batchSize: number; flushIntervalMs: number; telemetryIntervalMs: number; hotlistRefreshMs: number }>): void {
    this.#tuning = { ...this.#tuning, ...Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined)) };
    if (this.#started) this.#arm();
  }

  #arm(): void {
    for (const i of this.#intervals.values()) clearInterval(i);
    this.#intervals.clear();
    this.#intervals.set('flush', setInterval(() => this.#dispatch({ type: 'pending' }), this.#tuning.flushIntervalMs));
    this.#intervals.set('tele', setInterval(() => void this.#telemetry(), this.#tuning.telemetryIntervalMs));
    if (this.#o.hotlist !== undefined) this.#intervals.set('hotlist', setInterval(() => void this.#syncHotlist(undefined), this.#tuning.hotlistRefreshMs));
  }

  /** Tells the agent the outbox has new records (so they go out without waiting for the flush tick). */
  notifyPending(): void { this.#dispatch({ type: 'pending' }); }

  async stop(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#started = false;
    for (const i of this.#intervals.values()) clearInterval(i);
    this.#intervals.clear();
    const client = this.#client;
    this.#dispatch({ type: 'stop' });
    if (client !== undefined) await client.endAsync(true).catch(() => undefined);
    await this.#configChain;
    await this.#hotlistChain;
  }

  /** Publishes a job progress/result on `up/jobs/{jobId}` (QoS 1). */
  async reportJob(jobId: string, body: { status: 'in-progress' | 'succeeded' | 'failed' | 'rejected'; step?: string; kcv?: string; error?: { code: string; message: string } }): Promise<void> {
    const client = this.#client;
    if (client === undefined || this.#state.kind !== 'online') return;
    await client.publishAsync(`t/${this.#o.terminalId}/up/jobs/${jobId}`, Buffer.from(encodeFleetMessage('jobs/progress', { v: FLEET_SCHEMA_VERSION, ...body })), { qos: 1 });
  }

  #dispatch(event: UplinkEvent): void {
    const r = step(this.#state, event, { now: this.#clock(), random: this.#random(), policy: this.#policy });
    const changed = r.state !== this.#state;
    this.#state = r.state;
    for (const e of r.effects) this.#run(e);
    if (changed) this.#changed();
  }

  #run(e: UplinkEffect): void {
    switch (e.type) {
      case 'connect': this.#connect(e.epoch); break;
      case 'session-start': void this.#sessionStart(e.epoch); break;
      case 'send-batch': void this.#sendBatch(); break;
      case 'set-timer': {
        const t = setTimeout(() => { this.#timers.delete(t); this.#dispatch({ type: 'timer' }); }, Math.max(0, e.at - this.#clock()));
        this.#timers.add(t);
        break;
      }
      case 'close': {
        const c = this.#client;
        this.#client = undefined;
        c?.end(true);
        break;
      }
    }
  }

  #connect(epoch: number): void {
    const id = this.#o.terminalId;
    const opts: IClientOptions = {
      clientId: this.#o.mqtt.clientId, username: this.#o.mqtt.username, password: this.#o.mqtt.password,
      protocolVersion: 4, clean: true, reconnectPeriod: 0, connectTimeout: 10_000, keepalive: 30,
      // [fleet-protocol §2] Last Will on up/death with this connection's epoch.
      will: { topic: upTopic(id, 'death'), payload: Buffer.from(encodeFleetMessage('death', { v: FLEET_SCHEMA_VERSION, epoch })), qos: 1, retain: false },
    };
    const client = (this.#o.connect ?? mqtt.connect)(this.#o.mqtt.url, opts);
    this.#client = client;
    let gone = false;
    const lost = (): void => {
      if (gone) return;
      gone = true;
      if (this.#client === client) { this.#client = undefined; this.#dispatch({ type: 'disconnected' }); }
      client.end(true);
    };
    client.on('connect', () => { if (this.#client === client) { this.#stats.connects++; this.#dispatch({ type: 'connected' }); } });
    client.on('close', lost);
    client.on('error', (err) => { this.#o.logger?.warn({ code: (err as { code?: unknown }).code }, 'fleet connection error'); lost(); });
    client.on('message', (topic, payload) => void this.#onMessage(topic, new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength)));
  }

  async #sessionStart(epoch: number): Promise<void> {
    const client = this.#client;
    if (client === undefined) return;
    const id = this.#o.terminalId;
    try {
      assertTerminalId(id);
      await client.subscribeAsync([`t/${id}/down/#`, `${BROADCAST_PREFIX}#`], { qos: 1 });
      const birth = encodeFleetMessage('birth', {
        v: FLEET_SCHEMA_VERSION, epoch, ts: Math.floor(this.#clock()),
        versions: { software: this.#o.softwareVersion, config: this.#config?.version ?? 0, keys: this.#o.keysVersion?.() ?? 0, hotlist: this.#o.hotlist?.version ?? 0 },
        readers: [...(this.#o.readers?.() ?? [])],
        ...(this.#o.kind !== undefined ? { kind: this.#o.kind } : {}),
        ...(this.#o.applyConfig !== undefined ? { accepts: ['config-body' as const] } : {}),
      });
      await client.publishAsync(upTopic(id, 'birth'), Buffer.from(birth), { qos: 1 });
    } catch (err) {
      this.#o.logger?.warn({ code: (err as { code?: unknown }).code }, 'session start failed');
      return;
    }
    this.#dispatch({ type: 'pending' });
    const initial = this.#initialStatus;
    if (initial !== undefined) {
      // The effects that waited for a restart are done: report the version again with them.
      const body = encodeFleetMessage('config/status', { v: FLEET_SCHEMA_VERSION, version: initial.version, status: 'applied', changes: [...initial.changes] });
      await client.publishAsync(upTopic(id, 'config/status'), Buffer.from(body), { qos: 1 }).then(() => { this.#initialStatus = undefined; }, () => undefined);
    }
    // [fleet-protocol §8] reconcile by version over HTTP, whatever the broker kept.
    void this.#reconcileConfig();
    void this.#syncHotlist(undefined);
  }

  async #sendBatch(): Promise<void> {
    const client = this.#client;
    if (client === undefined) return;
    let records: readonly OutboxRecordMessage[];
    try {
      records = (await this.#o.outbox.pending(this.#tuning.batchSize)) as readonly OutboxRecordMessage[];
    } catch (err) {
      this.#o.logger?.error({ code: (err as { code?: unknown }).code }, 'outbox read failed');
      this.#dispatch({ type: 'batch-sent', sent: false });
      return;
    }
    if (records.length === 0) { this.#dispatch({ type: 'batch-sent', sent: false }); return; }
    // Keep the batch under the payload limit.
    let size = 32;
    let n = 0;
    for (const r of records) {
      const s = JSON.stringify(r).length + 1;
      if (n > 0 && size + s > MAX_FLEET_PAYLOAD - 1024) break;
      size += s;
      n++;
    }
    try {
      const payload = encodeFleetMessage('events', { v: FLEET_SCHEMA_VERSION, records: records.slice(0, n).map((r) => ({ eventId: r.eventId, seq: r.seq, ts: r.ts, type: r.type, body: { ...r.body } })) });
      await client.publishAsync(upTopic(this.#o.terminalId, 'events'), Buffer.from(payload), { qos: 1 });
      this.#stats.batchesSent++;
      this.#dispatch({ type: 'batch-sent', sent: true });
    } catch (err) {
      this.#o.logger?.warn({ code: (err as { code?: unknown }).code }, 'events publish failed');
    }
  }

  async #telemetry(): Promise<void> {
    const client = this.#client;
    if (client === undefined || this.#state.kind !== 'online') return;
    const s = this.#o.outbox.stats();
    const counters: Record<string, number> = {
      'agent.connects': this.#stats.connects, 'agent.batches': this.#stats.batchesSent, 'agent.acks': this.#stats.acks,
      'outbox.dropped_telemetry': s.droppedTelemetry, 'outbox.refused': s.refused, ...(this.#o.counters?.() ?? {}),
    };
    const body = encodeFleetMessage('tele', {
      v: FLEET_SCHEMA_VERSION, epoch: this.#state.epoch, ts: Math.floor(this.#clock()), health: s.full ? 'degraded' : 'ok',
      readers: [...(this.#o.readers?.() ?? [])], counters, outbox: { pending: s.pending, full: s.full },
    });
    await client.publishAsync(upTopic(this.#o.terminalId, 'tele'), Buffer.from(body), { qos: 0 }).catch(() => undefined);
  }

  async #onMessage(topic: string, payload: Uint8Array): Promise<void> {
    const id = this.#o.terminalId;
    this.#o.logger?.debug({ topic, bytes: payload.length }, 'fleet message');
    try {
      if (topic === downTopic(id, 'ack')) {
        const m = decodeFleetMessage('ack', payload);
        await this.#o.outbox.ack(m.upToSeq);
        this.#stats.acks++;
        this.#dispatch({ type: 'acked' });
      } else if (topic === downTopic(id, 'config')) {
        if (payload.length === 0) return; // pointer cleared: keep what we have [fleet-protocol §5]
        const m = decodeFleetMessage('config', payload);
        void this.#handleConfigPointer({ version: m.version, sha256: m.sha256 }, m.body);
      } else if (topic === HOTLIST_POINTER_TOPIC) {
        if (payload.length === 0) return;
        const m = decodeFleetMessage('hotlist', payload);
        void this.#syncHotlist(m.version);
      } else if (topic === HOTLIST_DELTA_TOPIC) {
        if (payload.length === 0) return;
        const m = decodeFleetMessage('hotlist/delta', payload);
        void this.#syncHotlist(m.version, { kind: 'delta', fromVersion: m.fromVersion, version: m.version, add: m.add, remove: m.remove });
      } else if (topic === downTopic(id, 'jobs/notify')) {
        if (payload.length === 0) return;
        const m = decodeFleetMessage('jobs/notify', payload);
        await this.#o.onJobNotify?.(m.next, this);
      }
    } catch (err) {
      this.#o.logger?.warn({ topic, code: (err as { code?: unknown }).code }, 'fleet message ignored');
    }
  }

  async #reconcileConfig(): Promise<void> {
    if (this.#o.applyConfig === undefined) return;
    try {
      const p = await this.#http.configPointer();
      if (p !== undefined) await this.#handleConfigPointer(p);
    } catch (err) {
      this.#o.logger?.warn({ code: (err as { code?: unknown }).code }, 'config reconcile failed');
    }
  }

  /**
   * [fleet-protocol §5] act on a pointer whose (version, sha256) differs from what runs; `body` is
   * the document when the pointer carried it (its digest is checked like a fetched one's).
   */
  #handleConfigPointer(p: ConfigPointerValue, body?: string): Promise<void> {
    const run = this.#configChain.then(async () => {
      const apply = this.#o.applyConfig;
      if (apply === undefined) return;
      if (this.#config !== undefined && this.#config.version === p.version && this.#config.sha256 === p.sha256) return;
      let status: { status: 'applied'; changes?: ConfigFieldEffectMessage[] } | { status: 'rejected'; error: { code: string; message: string } };
      try {
        const doc = body !== undefined ? configFromBytes(new TextEncoder().encode(body), p) : await this.#http.configDocument(p);
        const changes = await apply(doc, p);
        this.#config = p;
        this.#stats.configApplied++;
        status = { status: 'applied', ...(changes === undefined ? {} : { changes: [...changes] }) };
      } catch (err) {
        if ((err as { code?: unknown }).code === 'TERM_ERR_AGENT_FETCH') throw err; // transient: retried on the next pointer/reconnect
        this.#stats.configRejected++;
        status = { status: 'rejected', error: rejectionOf(err) };
      }
      const client = this.#client;
      if (client !== undefined) {
        await client.publishAsync(upTopic(this.#o.terminalId, 'config/status'), Buffer.from(encodeFleetMessage('config/status', { v: FLEET_SCHEMA_VERSION, version: p.version, ...status })), { qos: 1 }).catch(() => undefined);
      }
      this.#changed();
    });
    this.#configChain = run.catch((err) => { this.#o.logger?.warn({ code: (err as { code?: unknown }).code }, 'config fetch failed'); });
    return this.#configChain;
  }

  /**
   * [fleet-protocol §6] delta by base version, full snapshot when the server sends one. `broadcast`
   * is the fleet-wide change that came with the pointer: applied as is when this terminal is at its
   * base version, otherwise the terminal fetches.
   */
  #syncHotlist(target: number | undefined, broadcast?: HotlistUpdate & { kind: 'delta' }): Promise<void> {
    const sink = this.#o.hotlist;
    if (sink === undefined) return Promise.resolve();
    const run = this.#hotlistChain.then(async () => {
      if (target !== undefined && target === sink.version) { this.#o.onHotlistChecked?.(this.#clock()); return; }
      const update = broadcast !== undefined && broadcast.fromVersion === sink.version ? broadcast : await this.#http.hotlist(sink.version);
      if (update.version === sink.version && update.kind === 'delta') { this.#o.onHotlistChecked?.(this.#clock()); return; }
      await sink.apply(update);
      this.#o.onHotlistChecked?.(this.#clock());
      this.#o.logger?.debug({ kind: update.kind, version: update.version }, 'hotlist updated');
      this.#stats.hotlistUpdates++;
      this.#changed();
    });
    this.#hotlistChain = run.catch((err) => { this.#o.logger?.warn({ code: (err as { code?: unknown }).code }, 'hotlist sync failed'); });
    return this.#hotlistChain;
  }
}
