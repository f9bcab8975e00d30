/**
 * The OneCard demo (`npm start`): the fleet server with its embedded broker and SQLite store in
 * this process, and seven terminals — hall-kiosk, hospital-pos, pharmacy-pos-1/2, transit-gate-1/2,
 * library-gate — each a real `onecard-terminal run --data-dir DIR` child process (enrolled once
 * with `onecard-terminal enroll --name NAME`), on a simulated serial reader hosted here on a
 * pseudo-terminal (readers.ts). The scripted day is told in narration lines and driven only from
 * the outside: the terminals through their local APIs with their API tokens (as a kiosk front-end
 * or a hospital system does), the readers through the simulator's control API (as a person at the
 * reader: insert, remove, pull the card away mid-debit), the fleet through the admin API.
 *
 * The day: card reads, a PIN error, a lost card reported after the holder's PIN check and refused
 * at the pharmacy and the library gate, transit fares with one cut by the card leaving during
 * DEBIT FOR PURCHASE and settled on the next tap, a configuration pushed to the pharmacy group, and
 * the transit key rollout — the key custodian imports a wrapped key set and assigns it to the gates'
 * group; each gate's job runner loads it under its KBPK and acknowledges with the check value; the
 * gate without a physical PSAM then takes a fare with the soft SAM on the delivered keys. After the
 * day the terminals keep working (reads, gate entries, small fares) so the dashboard stays alive.
 * `startDemo` is used by `main.ts` and by the demo test.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXAMPLE_TERMINAL_CONFIG, type TerminalConfigDocument } from '@onecard/protocol/fleet';
import { createCard, loadCardFile, type SimulatedCard } from '@onecard/simulators';
import { startServer, type RunningServer } from '@onecard/server/src/server.ts';
import { CONFIG_DEFAULTS } from '@onecard/server/src/config.ts';
import { parseMasterKey, wrapKeySetForImport, type PurseKeyMaterial } from '@onecard/server/src/keys/key-crypto.ts';
import { CardPool, hostReader, ReaderHand, type HostedReader } from './readers.ts';
import { enrolledAs, enrolTerminal, errorCode, freePort, newApiToken, runCli, TerminalProcess, writeLocalFile, type ApiAnswer } from './processes.ts';
import { museumDay } from './venue.ts';
import { libraryConfig, libraryLoan, stopDemoLibrary } from './library.ts';
import { ensureDemoPortal, portalLogin } from './login.ts';

const CARDS = fileURLToPath(new URL('../../simulators/cards/', import.meta.url));

export interface DemoOptions {
  /** Data directory (server store and key, terminal data dirs, logs). */
  readonly dataDir: string;
  /** Wipe the data directory first. */
  readonly fresh: boolean;
  /** HTTP port of the server (0: the one of the previous run on this data dir, else a free one). */
  readonly httpPort: number;
  /** Receives every narration line. */
  readonly narrate: (line: string) => void;
  /** Log level of the terminal processes (default `warn`). */
  readonly terminalLogLevel?: string;
}

/** What the scripted day observed (checked by the demo test through the admin API as well). */
export interface DayOutcome {
  readonly lostCard: string;
  /** Terminals that refused the lost card, by name. */
  readonly refusedAt: string[];
  /** Milliseconds from the loss report to the card being refused at the pharmacy. */
  readonly lossToRefusalMs: number | undefined;
  readonly interruptedFare: { readonly amount: number; readonly balanceBefore: number; readonly balanceAfter: number; readonly cut: string; readonly recovery: string } | undefined;
  readonly configVersion: number | undefined;
  readonly configAppliedBy: string[];
  readonly keyRollout: 'done' | 'skipped';
  /** The key job of the rollout and the gates that acknowledged it with the expected check value. */
  readonly keyJob: { readonly id: string; readonly seq: number; readonly expectedKcv: string; readonly succeededBy: string[] } | undefined;
  /** The fare taken with the soft SAM at the gate without a physical PSAM. */
  readonly softSamFare: string | undefined;
  readonly notes: string[];
}

/** One terminal of the demo: its process, its reader, and what the fleet knows it as. */
export interface DemoTerminal {
  readonly name: string;
  readonly label: string;
  readonly kind: string;
  readonly groupId: string;
  readonly hasPsam: boolean;
  readonly terminalId: string;
  readonly dataDir: string;
  readonly proc: TerminalProcess;
  readonly reader: HostedReader;
  readonly hand: ReaderHand;
  /** The screens it serves: `kiosk`, `desk`. */
  readonly screens: readonly string[];
}

export interface Demo {
  readonly server: RunningServer;
  readonly httpUrl: string;
  readonly adminToken: string;
  readonly terminals: readonly DemoTerminal[];
  /** Runs the scripted day (once). */
  day(): Promise<DayOutcome>;
  /** Starts the background activity (one action every `everyMs`). */
  live(everyMs?: number): void;
  /**
   * Stops the background activity and every terminal process (SIGTERM, waits for each exit).
   * Idempotent. `interrupted`: a Ctrl-C on the controlling terminal already reached the terminal
   * processes (same process group); give them a moment to exit by themselves first.
   */
  stopTerminals(interrupted?: boolean): Promise<void>;
  /** Stops the terminals, the readers and the server. Idempotent. */
  stop(interrupted?: boolean): Promise<void>;
}

interface Kind {
  readonly name: string;
  readonly label: string;
  readonly kind: string;
  readonly groupId: string;
  /** Without a physical PSAM: fares use the soft SAM on the delivered transit keys. */
  readonly noPsam?: true;  /** The screens this terminal serves (`/kiosk/`, `/desk/`). */
  readonly screens?: { readonly kiosk?: true; readonly desk?: true };
}

/** The fleet of the demo. */
export const DEMO_TERMINALS: readonly Kind[] = [
  { name: 'hall-kiosk', label: 'hall kiosk', kind: 'kiosk', groupId: 'service-halls', screens: { kiosk: true, desk: true } },
  { name: 'hospital-pos', label: 'hospital POS', kind: 'pos', groupId: 'hospitals', screens: { desk: true } },
  { name: 'pharmacy-pos-1', label: 'pharmacy POS 1', kind: 'pos', groupId: 'pharmacies' },
  { name: 'pharmacy-pos-2', label: 'pharmacy POS 2', kind: 'pos', groupId: 'pharmacies' },
  { name: 'transit-gate-1', label: 'transit gate 1', kind: 'gate', groupId: 'transit-gates' },
  { name: 'transit-gate-2', label: 'transit gate 2', kind: 'gate', groupId: 'transit-gates', noPsam: true },
  { name: 'library-gate', label: 'library gate', kind: 'gate', groupId: 'libraries' },
  { name: 'museum-gate', label: 'museum gate', kind: 'gate', groupId: 'museums' },
];

const cardPath = (name: string): string => join(CARDS, name);
const cardFile = (name: string): Record<string, unknown> => JSON.parse(readFileSync(cardPath(name), 'utf8')) as Record<string, unknown>;
const maskName = (n: string): string => (n.length <= 1 ? n : `${[...n][0]}${'*'.repeat(Math.min(3, [...n].length - 1))}`);
const yuan = (fen: number): string => `¥${(fen / 100).toFixed(2)}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const codeOf = (e: unknown): string => (typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : e instanceof Error ? e.message : String(e));

/** The group whose terminals get transit key sets, and the key set the custodian rolls out. */
const KEYS_GROUP = 'transit-gates';
const KEY_SET_ID = 'transit-demo';
/** DEBIT FOR PURCHASE [JR/T 0025.2]: where the commuter pulls the card away. */
const INS_DEBIT = 0x54;

/**
 * The demo server's master key: `master.key` in the data dir (32 random bytes, mode 0600),
 * created on the first run and reused afterwards (key sets stored under it stay usable).
 */
function demoMasterKey(dataDir: string): Uint8Array {
  const file = join(dataDir, 'master.key');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32), { mode: 0o600 });
  chmodSync(file, 0o600);
  return parseMasterKey(new Uint8Array(readFileSync(file)));
}

/**
 * The purse keys the simulated transit cards are personalised with (the issuer-level roots of
 * the FIXED TEST cards in simulators/cards, dispersed twice: issuer factor, then card serial).
 * Both transit cards of the demo share them; the custodian would hold them in an HSM.
 */
function transitTestKeys(): PurseKeyMaterial[] {
  const tr = cardFile('transit-only.json')['transit'] as { keyVersion: number; algorithmId: number; keys: { mpk: string; mtk: string } };
  const slot = { keyVersion: tr.keyVersion, algorithmId: tr.algorithmId, levels: 2 };
  return [
    { usage: '61', ...slot, key: new Uint8Array(Buffer.from(tr.keys.mpk, 'hex')) },
    { usage: '62', ...slot, key: new Uint8Array(Buffer.from(tr.keys.mtk, 'hex')) },
  ];
}

async function until(fn: () => boolean | Promise<boolean>, limitMs = 20_000, stepMs = 25): Promise<boolean> {
  const end = Date.now() + limitMs;
  for (;;) {
    try { if (await fn()) return true; } catch { /* not yet */ }
    if (Date.now() > end) return false;
    await sleep(stepMs);
  }
}

/** Ports of the server, kept in the data dir so that enrolled terminals find it again on the next run. */
interface Ports { readonly http: number; readonly mqtt: number }
function loadPorts(dataDir: string): Ports | undefined {
  try {
    const p = JSON.parse(readFileSync(join(dataDir, 'ports.json'), 'utf8')) as Partial<Ports>;
    return Number.isInteger(p.http) && Number.isInteger(p.mqtt) ? { http: p.http!, mqtt: p.mqtt! } : undefined;
  } catch {
    return undefined;
  }
}

/** Starts the server, the readers and the terminal processes (enrolling them on first run). */
export async function startDemo(o: DemoOptions): Promise<Demo> {
  if (o.fresh) rmSync(o.dataDir, { recursive: true, force: true });
  const tokenFile = join(o.dataDir, 'admin-token');
  // A data dir without the token file cannot be reused (the server's bootstrap token is only shown once).
  if (!existsSync(tokenFile)) rmSync(o.dataDir, { recursive: true, force: true });
  mkdirSync(join(o.dataDir, 'server'), { recursive: true, mode: 0o700 });
  mkdirSync(join(o.dataDir, 'logs'), { recursive: true, mode: 0o700 });
  let adminToken: string;
  if (existsSync(tokenFile)) adminToken = readFileSync(tokenFile, 'utf8').trim();
  else {
    adminToken = `oca_demo_${randomBytes(18).toString('base64url')}`;
    writeFileSync(tokenFile, `${adminToken}\n`, { mode: 0o600 });
  }
  const previous = loadPorts(o.dataDir);
  const ports: Ports = { http: o.httpPort !== 0 ? o.httpPort : previous?.http ?? (await freePort()), mqtt: previous?.mqtt ?? (await freePort()) };
  const serverLog: WriteStream = createWriteStream(join(o.dataDir, 'logs', 'server.log'), { flags: 'a' });
  const server = await startServer({
    config: { ...CONFIG_DEFAULTS, dataDir: join(o.dataDir, 'server'), httpPort: ports.http, mqttPort: ports.mqtt, logLevel: 'warn' },
    dbPath: join(o.dataDir, 'server', 'onecard.db'),
    adminTokenPreset: adminToken,
    logStream: serverLog,
    masterKey: demoMasterKey(o.dataDir),
  });
  writeFileSync(join(o.dataDir, 'ports.json'), `${JSON.stringify(ports)}\n`);
  const say = o.narrate;
  const api = async (method: string, path: string, body?: unknown, token = adminToken): Promise<{ status: number; json: unknown }> => {
    const r = await fetch(`${server.httpUrl}${path}`, {
      method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    return { status: r.status, json: text.length > 0 ? (JSON.parse(text) as unknown) : undefined };
  };
  const terminals: DemoTerminal[] = [];
  const readers: HostedReader[] = [];
  const pool = new CardPool();
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  let terminalsStopped: Promise<void> | undefined;
  let busy: Promise<unknown> = Promise.resolve();
  const procs: TerminalProcess[] = [];
  let serverClosed = false;
  const stopTerminals = (interrupted = false): Promise<void> => {
    terminalsStopped ??= (async () => {
      stopped = true;
      for (const t of timers) clearInterval(t);
      // The action in progress may finish (its API calls fail once its terminal is gone).
      await Promise.race([busy.catch(() => undefined), sleep(2_000)]);
      const starting = [...procs];
      await Promise.all(starting.map(async (p) => {
        const e = await p.stop(10_000, interrupted ? 8_000 : 0);
        if (e.code !== 0) say(`warning: ${p.name} exited with code ${e.code} signal ${e.signal} (see logs/${p.name}.log)`);
      }));
    })();
    return terminalsStopped;
  };
  const stop = async (interrupted = false): Promise<void> => {
    await stopTerminals(interrupted);
    await stopDemoLibrary().catch(() => undefined);
    for (const r of readers.splice(0)) await r.close().catch(() => undefined);
    if (!serverClosed) {
      serverClosed = true;
      await server.close();
      await new Promise<void>((r) => serverLog.end(() => r()));
    }
  };
  try {
    for (const k of DEMO_TERMINALS) {
      const g = await api('POST', '/api/v1/groups', { id: k.groupId, name: k.groupId });
      if (g.status !== 201 && g.status !== 409) throw new Error(`group ${k.groupId}: HTTP ${g.status}`);
    }
    const enrolmentToken = async (groupId: string): Promise<string> => {
      const r = await api('POST', '/api/v1/enrolment-tokens', { groupId });
      if (r.status !== 201) throw new Error(`enrolment token: HTTP ${r.status}`);
      return (r.json as { token: string }).token;
    };
    const psam = (): SimulatedCard => createCard(loadCardFile(cardPath('psam.json')));
    // One CLI start first: after a source change it compiles the CLI bundle once, instead of every
    // enrolment and terminal process compiling it at the same time.
    await runCli(['--help']);
    // Readers first (the terminals open them), enrolments with the CLI where needed.
    const prepared = await Promise.all(DEMO_TERMINALS.map(async (k, i) => {
      const dir = join(o.dataDir, 'terminals', k.name);
      const was = enrolledAs(dir);
      // Not enrolled (first run, or a data dir of an older demo layout): start the terminal afresh,
      // so that no outbox or journal of another identity is carried over.
      if (was === undefined) rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const reader = await hostReader({ name: k.name, path: join(dir, 'reader'), pool, psam: k.noPsam === true ? undefined : psam() });
      readers.push(reader);
      let terminalId = was?.terminalId;
      if (was === undefined || was.serverUrl !== server.httpUrl || was.mqttUrl !== server.mqttUrl) {
        // First run, or the server moved (another --port): enrol again with the CLI.
        terminalId = await enrolTerminal({ serverUrl: server.httpUrl, token: await enrolmentToken(k.groupId), dataDir: dir, name: k.name, kind: k.kind, force: was !== undefined });
        if (was !== undefined) say(`(${k.name} re-enrolled: the server moved from ${was.serverUrl} to ${server.httpUrl})`);
      }
      const apiToken = newApiToken();
      writeLocalFile(dir, {
        readerPath: reader.path, psam: k.noPsam !== true, apiPort: await freePort(), apiToken, logLevel: o.terminalLogLevel ?? 'warn',
        ...(k.groupId === KEYS_GROUP ? { softSamNumber: `6399000000${String(i + 1).padStart(2, '0')}` } : {}),
        ...(k.screens === undefined ? {} : { screens: k.screens }),
      });
      return { k, dir, reader, terminalId: terminalId!, apiToken };
    }));
    const started = await Promise.all(prepared.map(async (p) => {
      const local = JSON.parse(readFileSync(join(p.dir, 'terminal.json'), 'utf8')) as { api: { port: number } };
      const proc = await TerminalProcess.start({ name: p.k.name, dataDir: p.dir, apiPort: local.api.port, apiToken: p.apiToken, logFile: join(o.dataDir, 'logs', `${p.k.name}.log`), readyMs: 180_000 });
      procs.push(proc);
      return { ...p, proc };
    }));
    for (const s of started) {
      terminals.push({
        name: s.k.name, label: s.k.label, kind: s.k.kind, groupId: s.k.groupId, hasPsam: s.k.noPsam !== true, terminalId: s.terminalId,
        dataDir: s.dir, proc: s.proc, reader: s.reader, hand: new ReaderHand(s.reader.controlUrl), screens: Object.keys(s.k.screens ?? {}),
      });
    }
    const ids = new Set(terminals.map((t) => t.terminalId));
    const online = await until(async () => {
      const list = ((await api('GET', '/api/v1/terminals?limit=500')).json as { terminals: { id: string; online: boolean }[] }).terminals;
      return list.filter((x) => ids.has(x.id) && x.online).length === ids.size;
    }, 30_000, 100);
    say(`${terminals.length} terminals ${online ? 'online' : 'started (some not yet online)'}, each an onecard-terminal run process on a simulated serial reader: ${terminals.map((t) => `${t.name} (pid ${t.proc.pid}${t.hasPsam ? '' : ', no PSAM'})`).join(', ')}`);
  } catch (e) {
    await stop();
    throw e;
  }

  const byName = (n: string): DemoTerminal => terminals.find((t) => t.name === n)!;
  const at = (t: DemoTerminal, line: string): void => say(`${t.label.padEnd(15)} │ ${line}`);

  // The cards of the day: files in simulators/cards, one physical card each (the pool keeps their state).
  const ZHANG = cardPath('ssc-2.00.json'); // X00000019, will be reported lost
  const zhangPin = String(cardFile('ssc-2.00.json')['pin']);
  const ABDU = cardPath('ssc-3.00-long-name.json'); // D2143569X, 3.00 card
  const abduPin = String(cardFile('ssc-3.00-long-name.json')['pin']);
  const LI = cardPath('ssc-2.00-transit.json'); // X00000027, social security card with the transit application
  const COMMUTER = cardPath('transit-only.json'); // a transit-only card (T=1)
  const LOST = String(cardFile('ssc-2.00.json')['cardNumber']);
  const balanceOf = (ref: string): number => (pool.get(ref) as { transit?: { balance: number } }).transit?.balance ?? NaN;

  /**
   * A card session as a person makes it: the card goes into the reader (control API), the
   * terminal sees it (GET /v1/readers), `fn` calls the local API, the card comes out again.
   * `cut` arms the reader to lose the card at the next command with that INS (the card executes
   * it, no answer comes back).
   */
  const withCard = async <T>(t: DemoTerminal, card: string, fn: () => Promise<T>, cut?: number): Promise<T> => {
    await t.hand.insert(card);
    if (!(await until(() => t.proc.cardPresent(), 10_000))) throw new Error(`${t.name}: card not seen by the terminal`);
    if (cut !== undefined) await t.hand.cut(cut, 'during');
    try {
      return await fn();
    } finally {
      await t.hand.remove();
      await until(async () => !(await t.proc.cardPresent()), 5_000);
    }
  };

  interface Info { cardNumber: string; name: string; generation: string; algorithm: string }
  /** POST /v1/card/read: the basic information, or the error code. */
  const read = async (t: DemoTerminal, card: string): Promise<Info | string> => {
    const r = await withCard(t, card, () => t.proc.api('POST', '/v1/card/read', { format: 'json' }));
    return r.status === 200 ? (r.json as unknown as Info) : errorCode(r) ?? `HTTP ${r.status}`;
  };
  const pin = (t: DemoTerminal, card: string, value: string): Promise<ApiAnswer> => withCard(t, card, () => t.proc.api('POST', '/v1/card/pin/verify', { pin: value }));

  /** POST /v1/card/purchase of `amount` fen; `cut`: the card leaves during DEBIT FOR PURCHASE. */
  const fare = async (t: DemoTerminal, card: string, amount: number, cut = false): Promise<string> => {
    const before = balanceOf(card);
    const r = await withCard(t, card, () => t.proc.api('POST', '/v1/card/purchase', { amount }), cut ? INS_DEBIT : undefined);
    if (r.status !== 200) return errorCode(r) ?? `HTTP ${r.status}`;
    const res = r.json as { kind: string; balanceAfter?: number; recovery?: { kind: string } };
    if (res.kind === 'completed') return `completed: ${yuan(amount)} debited, balance ${yuan(before)} → ${yuan(res.balanceAfter ?? balanceOf(card))}`;
    return `recovered:${res.recovery?.kind ?? '?'}`;
  };

  const day = async (): Promise<DayOutcome> => {
    const notes: string[] = [];
    const kiosk = byName('hall-kiosk');
    const hospital = byName('hospital-pos');
    const pharmacy1 = byName('pharmacy-pos-1');
    const pharmacy2 = byName('pharmacy-pos-2');
    const gate1 = byName('transit-gate-1');
    const library = byName('library-gate');
    say('── a day with OneCard ──────────────────────────────────────────────────────────────');
    // A reused data dir keeps yesterday's loss report: the card was found again.
    if ((await api('GET', `/api/v1/hotlist/${LOST}`)).status === 200) {
      await api('POST', '/api/v1/hotlist/cancel', { cardNumbers: [LOST], reason: 'found again (demo replay)' });
      say(`(replay: card ${LOST} from a previous run taken off the hotlist)`);
      // Wait until the pharmacy accepts the card again (it has the delta).
      await until(async () => typeof (await read(pharmacy1, ZHANG)) !== 'string', 15_000, 200);
    }

    // 08:30 service hall
    say('08:30  Zhang San comes to the service hall kiosk.');
    const z = await read(kiosk, ZHANG);
    at(kiosk, typeof z === 'string' ? `read failed: ${z}` : `card ${z.cardNumber} read: ${maskName(z.name)}, ${z.generation} card (${z.algorithm.toUpperCase()}), PSAM authentication OK`);

    // 08:40 card login to a portal (docs/login.md): the portal's login page shows a code; at the
    // kiosk the holder types it, inserts the card and enters the PIN; the portal gets an ID token.
    say('08:40  Zhang San logs in to the social security web hall on his phone: the login page shows a code, he types it at the kiosk, inserts his card and enters his PIN.');
    try {
      const portal = await ensureDemoPortal(api, o.dataDir, kiosk.groupId);
      const got = await portalLogin(server.httpUrl, portal, async (code) => {
        const r = await withCard(kiosk, ZHANG, () => kiosk.proc.api('POST', '/v1/login/approve', { code, pin: zhangPin }));
        return r.status === 200 ? { ok: true } : { ok: false, error: errorCode(r) ?? `HTTP ${r.status}` };
      });
      at(kiosk, `login code ${got.code} approved: card genuine, PIN verified, assertion signed with the terminal key`);
      say(`        ${portal.name} received an ID token: ${maskName(String(got.claims['name'] ?? ''))}, acr ${String(got.claims['acr'])}, amr ${JSON.stringify(got.claims['amr'])}, pairwise sub ${String(got.claims['sub']).slice(0, 8)}…`);
    } catch (e) {
      notes.push(`portal login: ${e instanceof Error ? e.message : String(e)}`);
      at(kiosk, `portal login failed: ${e instanceof Error ? e.message : String(e)}`);
    }

    // 09:10 hospital: a 3.00 card, one wrong PIN, then the right one
    say('09:10  Abdurahman registers at the hospital counter.');
    const a = await read(hospital, ABDU);
    at(hospital, typeof a === 'string' ? `read failed: ${a}` : `card ${a.cardNumber} read: ${maskName(a.name)}, ${a.generation} card (${a.algorithm.toUpperCase()}), external authentication OK`);
    const wrong = await pin(hospital, ABDU, abduPin === '0000' ? '9999' : '0000');
    if (wrong.status === 200) at(hospital, 'unexpected: a wrong PIN was accepted');
    else {
      const tries = ((wrong.json['error'] as { details?: { triesLeft?: number } } | undefined)?.details)?.triesLeft;
      at(hospital, `PIN mistyped: ${errorCode(wrong)}${tries === undefined ? '' : `, ${tries} tries left`}`);
    }
    const right = await pin(hospital, ABDU, abduPin);
    at(hospital, right.status === 200 ? 'PIN verified on the second attempt; the counter resets' : `PIN verify failed: ${errorCode(right)}`);

    // 10:05 loss report: the kiosk checks the holder's PIN, the hall clerk files the report.
    say('10:05  Zhang San has lost his card; the kiosk checks his PIN on his card and the hall clerk files the loss report.');
    const checked = await pin(kiosk, ZHANG, zhangPin);
    at(kiosk, checked.status === 200 ? 'PIN verified: the holder is who he says he is' : `PIN verify failed: ${errorCode(checked)}`);
    const reported = Date.now();
    const rep = await api('POST', '/api/v1/hotlist/report', { cardNumbers: [LOST], reason: 'lost (reported at the hall kiosk after a PIN check)' });
    const version = (rep.json as { version?: number } | undefined)?.version;
    say(rep.status === 200 ? `        server listed ${LOST} in hotlist version ${version}; the pointer goes out to every terminal` : `        loss report refused: HTTP ${rep.status}`);

    // 11:00 the finder tries the lost card at the pharmacy and the library
    say('11:00  Someone found the card and tries it at the pharmacy and at the library gate.');
    const refusedAt: string[] = [];
    let lossToRefusalMs: number | undefined;
    for (const t of [pharmacy1, library]) {
      let r = await read(t, ZHANG);
      // The delta may still be on its way (a few hundred ms at most): the finder tries again.
      for (let i = 0; i < 50 && r !== 'TERM_ERR_CARD_HOTLISTED' && typeof r !== 'string'; i++) {
        await sleep(200);
        r = await read(t, ZHANG);
      }
      if (r === 'TERM_ERR_CARD_HOTLISTED') {
        refusedAt.push(t.name);
        if (t === pharmacy1) lossToRefusalMs = Date.now() - reported;
      }
      at(t, typeof r === 'string' ? `card ${LOST} REFUSED: ${r}` : `unexpected: card ${r.cardNumber} accepted`);
    }
    if (lossToRefusalMs !== undefined) say(`        refused at the pharmacy ${lossToRefusalMs} ms after the report`);
    const liAtLibrary = await read(library, LI);
    at(library, typeof liAtLibrary === 'string' ? `read failed: ${liAtLibrary}` : `card ${liAtLibrary.cardNumber} (${maskName(liAtLibrary.name)}) admitted`);

    // 11:30 a library loan over SIP2 (docs/sip2.md): the fleet points the library group at the
    // library system; Li Si's card is his patron id; the desk lends a book and takes it back.
    say('11:30  Li Si borrows a book at the library: the gate asks the library system (SIP2) about him, the self-service desk lends it, he returns it.');
    try {
      const libDoc = await libraryConfig();
      let libCfg = await api('POST', '/api/v1/configs', { id: 'library', name: 'library', document: libDoc });
      if (libCfg.status === 409) libCfg = await api('PUT', '/api/v1/configs/library', { document: libDoc });
      const libVersion = (libCfg.json as { version?: number } | undefined)?.version;
      await api('PUT', `/api/v1/groups/${library.groupId}/config`, { configId: 'library' });
      await until(async () => ((await api('GET', `/api/v1/terminals/${library.terminalId}/config`)).json as { inSync?: boolean; appliedVersion?: number } | undefined)?.appliedVersion === libVersion, 20_000, 100);
      // The SIP2 password went to the fleet as text and is kept sealed: admins see only that it is
      // set; the gate fetched its own copy sealed under its KBPK (docs/sip2.md "The SIP2 password").
      const shown = (await api('GET', '/api/v1/configs/library')).json as { document?: { library?: { password?: unknown } } } | undefined;
      at(library, `SIP2 password sealed by the fleet (admins see ${JSON.stringify(shown?.document?.library?.password)}); the gate holds its own sealed copy`);
      for (const line of await libraryLoan((path, body) => library.proc.api('POST', path, body), (fn) => withCard(library, LI, fn))) at(library, line);
    } catch (e) {
      notes.push(`library loan: ${e instanceof Error ? e.message : String(e)}`);
      at(library, `library loan failed: ${e instanceof Error ? e.message : String(e)}`);
    }

    // 14:00 museum visit and 19:00 an event entry (docs/venues.md)
    const museum = byName('museum-gate');
    notes.push(...await museumDay({
      say, api, until,
      gate: { terminalId: museum.terminalId, groupId: museum.groupId, api: (m, p, b) => museum.proc.api(m, p, b), at: (l) => at(museum, l), withCard: (c, fn) => withCard(museum, c, fn) },
      kiosk: { api: (m, p, b) => kiosk.proc.api(m, p, b), at: (l) => at(kiosk, l), withCard: (c, fn) => withCard(kiosk, c, fn) },
      visitor: LI, registrant: { card: ABDU, pin: abduPin },
    }));

    // 17:40 transit fares
    say('17:40  Rush hour at the transit gates.');
    at(gate1, `Li Si taps: ${await fare(gate1, LI, 200)}`);
    const before = balanceOf(COMMUTER);
    const cut = await fare(gate1, COMMUTER, 200, true);
    at(gate1, `a commuter pulls the card away during DEBIT FOR PURCHASE: ${cut} (the journal keeps the fare pending)`);
    const again = await fare(gate1, COMMUTER, 200);
    const after = balanceOf(COMMUTER);
    at(gate1, `the same card taps again: ${again.startsWith('recovered') ? `GET TRANSACTION PROVE settled the pending fare (${again.slice(10)}), no second debit` : again}; balance ${yuan(before)} → ${yuan(after)}`);
    const interruptedFare = { amount: 200, balanceBefore: before, balanceAfter: after, cut, recovery: again };

    // 18:00 configuration push to the pharmacies
    say('18:00  The fleet admin pushes a new configuration to the pharmacy group.');
    const doc: TerminalConfigDocument = { ...EXAMPLE_TERMINAL_CONFIG, name: `pharmacy POS ${new Date().toISOString().slice(0, 16)}`, services: { ...EXAMPLE_TERMINAL_CONFIG.services, ecardQr: true, transit: false } };
    let created = await api('POST', '/api/v1/configs', { id: 'pharmacy', name: 'pharmacy POS', document: doc });
    if (created.status === 409) created = await api('PUT', '/api/v1/configs/pharmacy', { document: doc });
    const configVersion = (created.json as { version?: number } | undefined)?.version;
    const assigned = await api('PUT', '/api/v1/groups/pharmacies/config', { configId: 'pharmacy' });
    const pharmacies = [pharmacy1, pharmacy2];
    const inSync = async (t: DemoTerminal): Promise<boolean> => {
      const c = (await api('GET', `/api/v1/terminals/${t.terminalId}/config`)).json as { inSync?: boolean; appliedVersion?: number } | undefined;
      return c?.inSync === true && c.appliedVersion === configVersion;
    };
    const configApplied = configVersion !== undefined && assigned.status === 200 && (await until(async () => (await Promise.all(pharmacies.map(inSync))).every(Boolean), 20_000, 100));
    const configAppliedBy: string[] = [];
    for (const t of pharmacies) if (configVersion !== undefined && (await inSync(t))) configAppliedBy.push(t.name);
    say(configApplied ? `        config 'pharmacy' v${configVersion} fetched, checked (sha-256) and applied by ${configAppliedBy.join(' and ')} (status reported to the server)` : `        config push incomplete (HTTP ${created.status}/${assigned.status}; applied by ${configAppliedBy.join(', ') || 'none'})`);

    // 19:00 transit keys: import (wrapped), assignment to the gates, delivery under each KBPK, soft-SAM fare
    say('19:00  The key custodian rolls out a new transit key set to the gates.');
    let keyRollout: 'done' | 'skipped' = 'skipped';
    let keyJob: DayOutcome['keyJob'];
    let softSamFare: string | undefined;
    const skip = (why: string): void => {
      const note = `key rollout skipped: ${why}`;
      notes.push(note);
      say(`        ${note}`);
    };
    const gates = terminals.filter((t) => t.groupId === KEYS_GROUP);
    const tok = await api('POST', '/api/v1/admin/tokens', { name: `key custodian ${new Date().toISOString().slice(0, 16)}`, role: 'key-custodian' });
    const custodianToken = (tok.json as { token?: string } | undefined)?.token;
    const ik = custodianToken === undefined ? undefined : await api('GET', '/api/v1/key-sets/import-key', undefined, custodianToken);
    if (custodianToken === undefined) skip(`no key-custodian token (HTTP ${tok.status})`);
    else if (ik === undefined || ik.status !== 200) skip(`the server offers no import key (HTTP ${ik?.status})`);
    else {
      // The custodian's side: clear keys only in this process's memory, wrapped for the server's import key.
      const material = transitTestKeys();
      const wrapped = wrapKeySetForImport((ik.json as { publicKey: string }).publicKey, KEY_SET_ID, material);
      for (const k of material) k.key.fill(0);
      const imp = await api('POST', '/api/v1/key-sets', { keySetId: KEY_SET_ID, description: `demo transit keys ${new Date().toISOString().slice(0, 10)}`, ...wrapped }, custodianToken);
      const imported = imp.json as { version?: number; keys?: { role: string; kcv: string }[] } | undefined;
      if (imp.status !== 201 || imported?.version === undefined) skip(`import refused (HTTP ${imp.status}: ${JSON.stringify(imp.json)})`);
      else {
        say(`        key set '${KEY_SET_ID}' v${imported.version} imported wrapped under an ECDH import key: ${(imported.keys ?? []).map((k) => `${k.role} KCV ${k.kcv}`).join(', ')}`);
        // Custody: only a terminal without a physical PSAM may hold purse roots (soft SAM), and only
        // with a key custodian's approval of its key pair — not the admin who enrolled it.
        for (const g of gates) {
          if (g.hasPsam) continue;
          const ap = await api('PUT', `/api/v1/terminals/${g.terminalId}/key-approval`, { validForSeconds: 86_400 }, custodianToken);
          if (ap.status === 200) at(g, 'no physical PSAM: the key custodian approves this terminal\'s key pair for soft-SAM key delivery (24 h)');
          else if (ap.status !== 404) at(g, `key-delivery approval refused: HTTP ${ap.status} ${JSON.stringify(ap.json)}`);
        }
        const asg = await api('PUT', `/api/v1/groups/${KEYS_GROUP}/key-set`, { keySetId: KEY_SET_ID, version: imported.version }, custodianToken);
        const job = (asg.json as { job?: { id: string; seq: number; expectedKcv: string } } | undefined)?.job;
        if (asg.status !== 200 || job === undefined) skip(`assignment refused (HTTP ${asg.status})`);
        else {
          say(`        assigned to group ${KEYS_GROUP}: key job ${job.id} (version ${job.seq}), expected key-set check value ${job.expectedKcv}`);
          type Entry = { terminalId: string; status: string; reportedKcv: string | null; error: string | null };
          let entries: Entry[] = [];
          const settled = await until(async () => {
            entries = ((await api('GET', `/api/v1/key-jobs/${job.id}`)).json as { terminals?: Entry[] } | undefined)?.terminals ?? [];
            const mine = entries.filter((e) => gates.some((g) => g.terminalId === e.terminalId));
            return mine.length > 0 && mine.every((e) => e.status !== 'queued' && e.status !== 'in-progress') && gates.filter((g) => !g.hasPsam).every((g) => mine.some((e) => e.terminalId === g.terminalId));
          }, 30_000, 100);
          const succeededBy: string[] = [];
          for (const g of gates) {
            const e = entries.find((x) => x.terminalId === g.terminalId);
            if (e?.status === 'succeeded' && e.reportedKcv === job.expectedKcv) {
              succeededBy.push(g.name);
              at(g, `key job succeeded: purse keys v${job.seq} loaded under the terminal's KBPK, acknowledged KCV ${e.reportedKcv}`);
            } else if (e === undefined && g.hasPsam) at(g, 'has a physical PSAM: not part of the key job (purse roots go only to approved soft-SAM terminals)');
            else at(g, `key job ${e?.status ?? 'not listed'}${e?.error == null ? '' : ` (${e.error})`}${settled ? '' : ' (timed out waiting)'}`);
          }
          keyJob = { id: job.id, seq: job.seq, expectedKcv: job.expectedKcv, succeededBy };
          if (gates.filter((g) => !g.hasPsam).every((g) => succeededBy.includes(g.name))) keyRollout = 'done';
          else notes.push(`key rollout incomplete: succeeded on ${succeededBy.join(', ') || 'no gate'}`);
          // The gate without a physical PSAM takes a fare with the soft SAM on the delivered keys.
          const softGate = gates.find((g) => !g.hasPsam);
          if (softGate !== undefined) {
            softSamFare = await fare(softGate, LI, 200);
            at(softGate, `no physical PSAM; Li Si taps on the way home, the soft SAM computes MAC1 and checks MAC2 with the delivered keys: ${softSamFare}`);
          }
        }
      }
    }
    say('── end of the scripted day ─────────────────────────────────────────────────────────');
    return { lostCard: LOST, refusedAt, lossToRefusalMs, interruptedFare, configVersion, configAppliedBy, keyRollout, keyJob, softSamFare, notes };
  };

  let dayRun: Promise<DayOutcome> | undefined;
  let live = 0;
  const liveActions = (everyMs = 3_000): void => {
    let n = 0;
    const tick = async (): Promise<void> => {
      n++;
      const pick = n % 4;
      if (pick === 0) {
        const t = byName('library-gate');
        const r = await read(t, n % 8 === 0 ? ABDU : LI);
        if (typeof r === 'string') at(t, `entry refused: ${r}`);
      } else if (pick === 1) {
        const t = byName(n % 8 === 1 ? 'transit-gate-1' : 'transit-gate-2');
        const r = await fare(t, COMMUTER, 1);
        if (!r.startsWith('completed')) at(t, `fare: ${r}`);
      } else if (pick === 2) {
        await read(byName(n % 8 === 2 ? 'hall-kiosk' : 'hospital-pos'), ABDU);
      } else {
        await read(byName(n % 8 === 3 ? 'pharmacy-pos-1' : 'pharmacy-pos-2'), LI);
      }
      live++;
      if (live % 20 === 0) say(`live: ${live} card actions through the terminals' local APIs so far`);
    };
    const timer = setInterval(() => {
      if (stopped) return;
      busy = busy.then(tick).catch((e: unknown) => say(`live action failed: ${codeOf(e)}`));
    }, everyMs);
    timers.add(timer);
  };

  return {
    server, httpUrl: server.httpUrl, adminToken, terminals,
    day: () => {
      dayRun ??= (async () => {
        const p = day();
        busy = p;
        return p;
      })();
      return dayRun;
    },
    live: liveActions, stopTerminals, stop,
  };
}
