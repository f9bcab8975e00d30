/**
 * Child process of `bench/fleet-server.ts`: holds the simulated terminals (simulators/src/fleet)
 * so the server process measures only itself. Driven over the IPC channel with one command at a
 * time; answers each with one message. Also runs the raw-broker baseline: P publishers and one
 * subscriber on a bare aedes broker, QoS 1 both ways. Does nothing when imported (the bench
 * runner imports every bench file; this one has no default export and is skipped).
 */
import { connect, type MqttClient } from 'mqtt';
import { startProfile, stopProfile } from './lib/profile.ts';
import { SimFleet, enrolFleet, mapLimit, type TerminalCredentials } from '@onecard/simulators/src/fleet/index.ts';
export type { TerminalCredentials };

export type WorkerCommand =
  | { readonly cmd: 'enrol'; readonly server: string; readonly adminToken: string; readonly terminals: number; readonly groupId: string }
  | { readonly cmd: 'load'; readonly server: string; readonly credentials: readonly TerminalCredentials[] }
  | { readonly cmd: 'connect'; readonly batchSize: number; readonly from?: number; readonly to?: number }
  | { readonly cmd: 'watch-card'; readonly card: string; readonly terminals: number; readonly timeoutMs: number; readonly onlineOnly?: boolean }
  | { readonly cmd: 'wait-card' }
  | { readonly cmd: 'burst'; readonly recordsPerTerminal: number; readonly terminals: number; readonly timeoutMs: number }
  | { readonly cmd: 'relay'; readonly url: string; readonly publishers: number; readonly messages: number; readonly payload: string }
  | { readonly cmd: 'stats' }
  | { readonly cmd: 'legacy'; readonly on: boolean }
  | { readonly cmd: 'cpu' }
  | { readonly cmd: 'profile-start'; readonly always?: boolean }
  | { readonly cmd: 'profile-stop'; readonly name: string }
  | { readonly cmd: 'close' };

export type WorkerReply =
  | { readonly ok: true; readonly cmd: string; readonly ms: number; readonly [k: string]: unknown }
  | { readonly ok: false; readonly cmd: string; readonly error: string };

let creds: TerminalCredentials[] = [];
let server = '';
let fleet: SimFleet | undefined;
/** The loss report being timed: resolves when the first `terminals` terminals all refuse `card`. */
let watch: { card: string; waiting: Set<string>; done: Promise<boolean> } | undefined;
let onRefusal: ((terminalId: string) => void) | undefined;

function open(url: string, id: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = connect(url, { clientId: id, protocolVersion: 4, reconnectPeriod: 0, clean: true });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

/** Raw relay: `publishers` clients publish `messages` QoS 1 messages in total; one subscriber receives them. */
async function relay(url: string, publishers: number, messages: number, payload: string): Promise<{ ms: number; received: number }> {
  const sub = await open(url, 'relay-sub');
  await sub.subscribeAsync('relay/#', { qos: 1 });
  const pubs = await mapLimit(Array.from({ length: publishers }, (_, i) => i), 100, (i) => open(url, `relay-pub-${i}`));
  const body = Buffer.from(payload);
  let received = 0;
  const t0 = performance.now();
  const done = new Promise<void>((resolve) => {
    sub.on('message', () => {
      if (++received === messages) resolve();
    });
  });
  const per = Math.ceil(messages / publishers);
  let sent = 0;
  for (const [i, p] of pubs.entries()) {
    for (let k = 0; k < per && sent < messages; k++, sent++) p.publish(`relay/${i}`, body, { qos: 1 });
  }
  await done;
  const ms = performance.now() - t0;
  await Promise.all([sub, ...pubs].map((c) => c.endAsync(true)));
  return { ms, received };
}

async function handle(m: WorkerCommand): Promise<WorkerReply> {
  const t0 = performance.now();
  switch (m.cmd) {
    case 'enrol':
      server = m.server;
      creds = await enrolFleet({ server: m.server, adminToken: m.adminToken, terminals: m.terminals, groupId: m.groupId, concurrency: 32 });
      return { ok: true, cmd: m.cmd, ms: performance.now() - t0, enrolled: creds.length };
    case 'load':
      server = m.server;
      creds = [...m.credentials];
      return { ok: true, cmd: m.cmd, ms: 0, loaded: creds.length };
    case 'connect': {
      fleet ??= new SimFleet(creds, {
        server, batchSize: m.batchSize, concurrency: 500, reconnectDelayMs: 2_000, keepaliveSeconds: 300,
        onEvent: (e) => { if (e.type === 'hotlist') onRefusal?.(e.terminalId); },
      });
      const t0c = performance.now();
      const range = { from: m.from ?? 0, to: m.to ?? fleet.terminals.length };
      let r = await fleet.connectAll(range);
      // On a loaded machine some CONNECTs time out: those terminals try again, fewer at a time,
      // as a real terminal's reconnect would.
      for (let attempt = 0; attempt < 5 && r.failed > 0; attempt++) {
        const missing = fleet.terminals.slice(range.from, range.to).filter((t) => !t.connected);
        r = { ms: 0, failed: 0 };
        await mapLimit(missing, 50, async (t) => { try { await t.connect(); } catch { r.failed++; } });
      }
      return { ok: true, cmd: m.cmd, ms: performance.now() - t0c, failed: r.failed, rss: process.memoryUsage().rss };
    }
    case 'watch-card': {
      const terms = fleet!.terminals.slice(0, m.terminals).filter((t) => m.onlineOnly !== true || t.connected);
      const byId = new Map(terms.map((t) => [t.id, t]));
      const waiting = new Set(terms.filter((t) => !t.refuses(m.card)).map((t) => t.id));
      let finish!: (ok: boolean) => void;
      const done = new Promise<boolean>((r) => { finish = r; });
      const timer = setTimeout(() => finish(false), m.timeoutMs);
      const card = m.card;
      onRefusal = (id) => {
        if (waiting.has(id) && byId.get(id)!.refuses(card)) waiting.delete(id);
        if (waiting.size === 0) { clearTimeout(timer); finish(true); }
      };
      watch = { card, waiting, done };
      return { ok: true, cmd: m.cmd, ms: 0, waiting: waiting.size };
    }
    case 'wait-card': {
      const w = watch!;
      const ok = await w.done;
      onRefusal = undefined;
      watch = undefined;
      return { ok: true, cmd: m.cmd, ms: performance.now() - t0, complete: ok, missing: w.waiting.size };
    }
    case 'burst': {
      const r = await fleet!.burst(m.recordsPerTerminal, m.timeoutMs, m.terminals);
      return { ok: true, cmd: m.cmd, ms: r.ms, records: r.records };
    }
    case 'relay': {
      const r = await relay(m.url, m.publishers, m.messages, m.payload);
      return { ok: true, cmd: m.cmd, ms: r.ms, received: r.received };
    }
    case 'profile-start':
      await startProfile(m.always === true);
      return { ok: true, cmd: m.cmd, ms: 0 };
    case 'profile-stop':
      return { ok: true, cmd: m.cmd, ms: 0, summary: (await stopProfile(m.name, 12)) ?? '' };
    case 'cpu': {
      const u = process.cpuUsage();
      return { ok: true, cmd: m.cmd, ms: 0, cpuMs: (u.user + u.system) / 1000 };
    }
    case 'legacy':
      fleet?.setLegacy(m.on);
      return { ok: true, cmd: m.cmd, ms: 0 };
    case 'stats':
      return { ok: true, cmd: m.cmd, ms: 0, stats: fleet?.stats() ?? null };
    case 'close':
      await fleet?.close();
      return { ok: true, cmd: m.cmd, ms: performance.now() - t0 };
  }
}

if (process.env['ONECARD_FLEET_WORKER'] === '1' && typeof process.send === 'function') {
  let chain = Promise.resolve();
  process.on('message', (m: WorkerCommand) => {
    chain = chain.then(async () => {
      let reply: WorkerReply;
      try {
        reply = await handle(m);
      } catch (err) {
        reply = { ok: false, cmd: m.cmd, error: err instanceof Error ? `${(err as { code?: string }).code ?? ''} ${err.message}` : String(err) };
      }
      process.send!(reply);
      if (m.cmd === 'close') process.disconnect();
    });
  });
  process.send({ ok: true, cmd: 'ready', ms: 0 } satisfies WorkerReply);
}
