/**
 * Shared pieces of the scale-out scenarios (`mosquitto-scenario.ts`, `multi-server-scenario.ts`,
 * run by `.ci/suites/*.sh`): free ports, server processes started from the CLI, the admin API,
 * enrolment with a fresh P-256 key, MQTT terminals, bounded waits and a check tally that makes the
 * process exit non-zero on any failed check.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';

export const SERVER_BIN = join(dirname(fileURLToPath(import.meta.url)), '../../bin/onecard-server.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a value other than `undefined`/`false`, or throws after `ms`. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
    await sleep(100);
  }
}

/** Counts checks; `done()` prints the tally and sets the exit code. */
export class Checks {
  #n = 0;
  #failed = 0;
  ok(cond: boolean, name: string, detail?: unknown): void {
    this.#n++;
    if (cond) console.log(`  ok   ${name}`);
    else {
      this.#failed++;
      console.error(`  FAIL ${name}${detail !== undefined ? ` (${typeof detail === 'string' ? detail : JSON.stringify(detail)})` : ''}`);
    }
  }
  equal(got: unknown, want: unknown, name: string): void {
    this.ok(JSON.stringify(got) === JSON.stringify(want), name, { want, got });
  }
  get failed(): number { return this.#failed; }
  done(label: string): void {
    console.log(`${label}: ${this.#n} checks, ${this.#failed} failed`);
    if (this.#failed > 0) process.exitCode = 1;
  }
}

export interface ServerProcess {
  readonly http: string;
  readonly mqtt: string;
  readonly proc: ChildProcess;
  readonly output: () => string;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** SIGKILL (a crash) and wait. */
  kill(): Promise<void>;
}

/** Starts `onecard-server` with `args` and waits for its `ready` line. */
export async function startServerProcess(name: string, args: readonly string[], env: Readonly<Record<string, string>>): Promise<ServerProcess> {
  const proc = spawn(process.execPath, [SERVER_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const ready = await waitFor(`${name} ready`, () => {
    if (proc.exitCode !== null) throw new Error(`${name} exited (${proc.exitCode}): ${out.slice(-2000)}`);
    const line = out.split('\n').find((l) => l.includes('"event":"ready"'));
    return line === undefined ? undefined : JSON.parse(line) as { http: string; mqtt: string };
  }, 60_000).catch((e: unknown) => { proc.kill('SIGKILL'); throw e; });
  const end = async (sig: NodeJS.Signals): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(sig);
    await Promise.race([exited, sleep(15_000).then(() => { proc.kill('SIGKILL'); return exited; })]);
  };
  return { http: ready.http, mqtt: ready.mqtt, proc, output: () => out, stop: () => end('SIGTERM'), kill: () => end('SIGKILL') };
}

/** Admin API client. */
export function adminApi(http: string, token: string) {
  return async <T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> => {
    const r = await fetch(`${http}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, json: (text === '' ? {} : JSON.parse(text)) as T };
  };
}

export interface Enrolled {
  readonly terminalId: string;
  readonly password: string;
  readonly mqttUrl: string;
}

/** Creates an enrolment token for `groupId` and enrols a new terminal with a fresh key. */
export async function enrol(http: string, adminToken: string, groupId: string): Promise<Enrolled> {
  const api = adminApi(http, adminToken);
  const tok = await api<{ token: string }>('POST', '/api/v1/enrolment-tokens', { groupId });
  if (tok.status !== 201) throw new Error(`enrolment token: ${tok.status} ${JSON.stringify(tok.json)}`);
  const publicKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const r = await fetch(`${http}/api/v1/enrol`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: tok.json.token, publicKey, kind: 'hall-kiosk' }) });
  const j = await r.json() as { terminalId: string; mqtt: { url: string; password: string } };
  if (r.status !== 201) throw new Error(`enrol: ${r.status} ${JSON.stringify(j)}`);
  return { terminalId: j.terminalId, password: j.mqtt.password, mqttUrl: j.mqtt.url };
}

export interface Terminal {
  readonly id: string;
  readonly client: MqttClient;
  /** Messages received, in order. */
  readonly inbox: { topic: string; payload: string; retain: boolean }[];
  end(): Promise<void>;
}

/**
 * Connects as a terminal (client id = username = terminal id, clean session, Last Will), and
 * subscribes to its down tree and the broadcast tree. Rejects on a refused CONNECT.
 */
export async function connectTerminal(url: string, id: string, password: string, opts: { clientId?: string; subscribe?: boolean; reconnect?: boolean } = {}): Promise<Terminal> {
  const client = mqtt.connect(url, {
    protocolVersion: 4, clientId: opts.clientId ?? id, username: id, password, clean: true, keepalive: 10,
    reconnectPeriod: opts.reconnect === true ? 300 : 0, connectTimeout: 5000,
    will: { topic: `t/${id}/up/death`, payload: Buffer.from(JSON.stringify({ v: 1, epoch: Date.now() })), qos: 1, retain: false },
  });
  const inbox: Terminal['inbox'] = [];
  client.on('message', (topic, payload, packet) => { inbox.push({ topic, payload: payload.toString(), retain: packet.retain }); });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', (e) => { client.end(true); reject(e); });
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
  client.on('error', () => {});
  if (opts.subscribe !== false) {
    const granted = await client.subscribeAsync([`t/${id}/down/#`, 'fleet/broadcast/#'], { qos: 1 });
    if (granted.some((g) => g.qos === 128)) throw new Error(`subscription refused for ${id}`);
  }
  return { id, client, inbox, end: () => client.endAsync(true) };
}

export function birth(epoch: number): string {
  return JSON.stringify({ v: 1, epoch, ts: Date.now(), versions: { software: 'scale-test', config: 0, keys: 0, hotlist: 0 }, readers: [] });
}

export function eventsBatch(terminalId: string, from: number, count: number): { json: string; lastSeq: number; ids: string[] } {
  const records = Array.from({ length: count }, (_, i) => ({ eventId: `${terminalId}-${String(from + i).padStart(6, '0')}-scale`, seq: from + i, ts: Date.now(), type: 'card.read', body: { n: from + i } }));
  return { json: JSON.stringify({ v: 1, records }), lastSeq: from + count - 1, ids: records.map((r) => r.eventId) };
}
