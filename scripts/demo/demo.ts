/**
 * The OneCard demo (`npm start`): the fleet server with its embedded broker and SQLite store, one
 * simulated terminal of every kind (hall kiosk, hospital POS, two pharmacy POS, two transit gates,
 * library gate) running the real terminal code, and a scripted day told in narration lines: card
 * reads, a PIN error, a lost card reported at the kiosk and refused at the pharmacy and the library
 * gate, transit fares with one cut by card removal and settled on the next tap, a configuration
 * pushed to the pharmacy group, and the transit key rollout: the key custodian imports a wrapped
 * key set, assigns it to the gates' group, each gate's job runner loads it under its KBPK and
 * acknowledges with the check value, and the gate without a physical PSAM takes a fare with the
 * soft SAM on the delivered keys. After
 * the day the terminals keep working (reads, gate entries, small fares, telemetry) so the dashboard
 * stays alive. `startDemo` is used by `main.ts` and by the demo test.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino, { type Logger } from 'pino';
import { EXAMPLE_TERMINAL_CONFIG, type TerminalConfigDocument } from '@onecard/protocol/fleet';
import { createCard, loadCardFile, type SimulatedCard } from '@onecard/simulators';
import { startServer, type RunningServer } from '../../server/src/server.ts';
import { CONFIG_DEFAULTS } from '../../server/src/config.ts';
import { parseMasterKey, wrapKeySetForImport, type PurseKeyMaterial } from '../../server/src/keys/key-crypto.ts';
import { readBasicInfo, verifyPin, purchase, type BasicInfo } from '../../terminal/src/services/index.ts';
import { DemoTerminal } from './terminal.ts';

const CARDS = fileURLToPath(new URL('../../simulators/cards/', import.meta.url));

export interface DemoOptions {
  /** Data directory (server store and key, terminal identities, outboxes, journals, logs). */
  readonly dataDir: string;
  /** Wipe the data directory first. */
  readonly fresh: boolean;
  /** HTTP port of the server (0: a free one). */
  readonly httpPort: number;
  /** Receives every narration line. */
  readonly narrate: (line: string) => void;
  /** Terminal telemetry period (default 10 s). */
  readonly telemetryIntervalMs?: number;
}

/** What the scripted day observed (checked by the demo test through the admin API as well). */
export interface DayOutcome {
  readonly lostCard: string;
  /** Terminals that refused the lost card, by name. */
  readonly refusedAt: string[];
  /** Milliseconds from the kiosk's loss report to the card being on every online terminal's list. */
  readonly lossToEverywhereMs: number | undefined;
  readonly interruptedFare: { readonly amount: number; readonly balanceBefore: number; readonly balanceAfter: number; readonly recovery: string } | undefined;
  readonly configVersion: number | undefined;
  readonly configAppliedBy: string[];
  readonly keyRollout: 'done' | 'skipped';
  /** The key job of the rollout and the gates that acknowledged it with the expected check value. */
  readonly keyJob: { readonly id: string; readonly expectedKcv: string; readonly succeededBy: string[] } | undefined;
  /** The fare taken with the soft SAM at the gate without a physical PSAM. */
  readonly softSamFare: string | undefined;
  readonly notes: string[];
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
  /** Stops terminals, readers and the server. Idempotent. */
  stop(): Promise<void>;
}

interface Kind {
  readonly name: string;
  readonly label: string;
  readonly kind: string;
  readonly groupId: string;
  readonly reader: 'pty' | 'memory';
  /** Without a physical PSAM: fares use the soft SAM on the delivered transit keys. */
  readonly noPsam?: true;
}

/** The fleet of the demo. Transit gates use memory channels (a tap cut at an exact command); the rest use ptys. */
export const DEMO_TERMINALS: readonly Kind[] = [
  { name: 'hall-kiosk', label: 'hall kiosk', kind: 'kiosk', groupId: 'service-halls', reader: 'pty' },
  { name: 'hospital-pos', label: 'hospital POS', kind: 'pos', groupId: 'hospitals', reader: 'pty' },
  { name: 'pharmacy-pos-1', label: 'pharmacy POS 1', kind: 'pos', groupId: 'pharmacies', reader: 'pty' },
  { name: 'pharmacy-pos-2', label: 'pharmacy POS 2', kind: 'pos', groupId: 'pharmacies', reader: 'pty' },
  { name: 'transit-gate-1', label: 'transit gate 1', kind: 'gate', groupId: 'transit-gates', reader: 'memory' },
  { name: 'transit-gate-2', label: 'transit gate 2', kind: 'gate', groupId: 'transit-gates', reader: 'memory', noPsam: true },
  { name: 'library-gate', label: 'library gate', kind: 'gate', groupId: 'libraries', reader: 'pty' },
];

const cardFile = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(CARDS, name), 'utf8')) as Record<string, unknown>;
const makeCard = (name: string): SimulatedCard => createCard(loadCardFile(join(CARDS, name)));
const balanceOf = (card: SimulatedCard): number => (card as { transit?: { balance: number } }).transit?.balance ?? NaN;
const maskName = (n: string): string => (n.length <= 1 ? n : `${[...n][0]}${'*'.repeat(Math.min(3, [...n].length - 1))}`);
const yuan = (fen: number): string => `¥${(fen / 100).toFixed(2)}`;
const codeOf = (e: unknown): string => (typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : String(e));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The group whose terminals get transit key sets, and the key set the custodian rolls out. */
const KEYS_GROUP = 'transit-gates';
const KEY_SET_ID = 'transit-demo';

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

async function until(what: string, fn: () => boolean | Promise<boolean>, limitMs = 20_000): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (!(await fn())) {
    if (Date.now() > end) return false;
    await sleep(25);
  }
  return true;
}

/** Starts the server and the terminals (enrolling them on first run). */
export async function startDemo(o: DemoOptions): Promise<Demo> {
  if (o.fresh) rmSync(o.dataDir, { recursive: true, force: true });
  const tokenFile = join(o.dataDir, 'admin-token');
  // A data dir without the token file cannot be reused (the server's bootstrap token is only shown once).
  if (!existsSync(tokenFile)) rmSync(o.dataDir, { recursive: true, force: true });
  mkdirSync(join(o.dataDir, 'server'), { recursive: true, mode: 0o700 });
  let adminToken: string;
  if (existsSync(tokenFile)) adminToken = readFileSync(tokenFile, 'utf8').trim();
  else {
    adminToken = `oca_demo_${randomBytes(18).toString('base64url')}`;
    writeFileSync(tokenFile, `${adminToken}\n`, { mode: 0o600 });
  }
  const serverLog: WriteStream = createWriteStream(join(o.dataDir, 'server.log'), { flags: 'a' });
  const terminalLog: WriteStream = createWriteStream(join(o.dataDir, 'terminals.log'), { flags: 'a' });
  const logger: Logger = pino({ level: 'warn' }, terminalLog);
  const server = await startServer({
    config: { ...CONFIG_DEFAULTS, dataDir: join(o.dataDir, 'server'), httpPort: o.httpPort, mqttPort: 0, logLevel: 'warn' },
    dbPath: join(o.dataDir, 'server', 'onecard.db'),
    adminTokenPreset: adminToken,
    logStream: serverLog,
    masterKey: demoMasterKey(o.dataDir),
  });
  const say = o.narrate;
  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> => {
    const r = await fetch(`${server.httpUrl}${path}`, {
      method, headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    return { status: r.status, json: text.length > 0 ? (JSON.parse(text) as unknown) : undefined };
  };
  const terminals: DemoTerminal[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  let busy: Promise<unknown> = Promise.resolve();
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const t of timers) clearInterval(t);
    await busy.catch(() => undefined);
    for (const t of terminals) await t.close().catch((e: unknown) => say(`warning: ${t.name} did not close cleanly (${codeOf(e)})`));
    await server.close();
    await new Promise<void>((r) => serverLog.end(() => r()));
    await new Promise<void>((r) => terminalLog.end(() => r()));
  };
  try {
    for (const k of DEMO_TERMINALS) {
      const g = await api('POST', '/api/v1/groups', { id: k.groupId, name: k.groupId });
      if (g.status !== 201 && g.status !== 409) throw new Error(`group ${k.groupId}: HTTP ${g.status}`);
    }
    const psam = (): SimulatedCard => makeCard('psam.json');
    for (const [i, k] of DEMO_TERMINALS.entries()) {
      const t = await DemoTerminal.open({
        name: k.name, kind: k.kind, groupId: k.groupId, reader: k.reader, dataDir: join(o.dataDir, 'terminals'),
        serverUrl: server.httpUrl, mqttUrl: server.mqttUrl, psam: k.noPsam === true ? undefined : psam(), logger: logger.child({ terminal: k.name }),
        ...(k.groupId === KEYS_GROUP ? { keys: { terminalNumber: `6399000000${String(i + 1).padStart(2, '0')}` } } : {}),
        ...(o.telemetryIntervalMs === undefined ? {} : { telemetryIntervalMs: o.telemetryIntervalMs }),
        enrolmentToken: async (groupId) => {
          const r = await api('POST', '/api/v1/enrolment-tokens', { groupId });
          if (r.status !== 201) throw new Error(`enrolment token: HTTP ${r.status}`);
          return (r.json as { token: string }).token;
        },
      });
      terminals.push(t);
      t.start();
    }
    const online = await until('online', () => terminals.every((t) => t.agent.state.kind === 'online'), 20_000);
    say(`${terminals.length} terminals ${online ? 'online' : 'started (some not yet online)'}: ${terminals.map((t) => `${t.name} (${t.readerKind === 'pty' ? 'serial reader on a pty' : 'contactless, memory channel'})`).join(', ')}`);
  } catch (e) {
    await stop();
    throw e;
  }

  const byName = (n: string): DemoTerminal => terminals.find((t) => t.name === n)!;
  const label = (t: DemoTerminal): string => DEMO_TERMINALS.find((k) => k.name === t.name)!.label;
  const at = (t: DemoTerminal, line: string): void => say(`${label(t).padEnd(15)} │ ${line}`);

  // The cards of the day. Their state (PIN tries, purse balance) lives as long as this process.
  const zhang = makeCard('ssc-2.00.json'); // X00000019, will be reported lost
  const zhangPin = String(cardFile('ssc-2.00.json')['pin']);
  const abdu = makeCard('ssc-3.00-long-name.json'); // D2143569X, 3.00 card
  const abduPin = String(cardFile('ssc-3.00-long-name.json')['pin']);
  const li = makeCard('ssc-2.00-transit.json'); // X00000027, social security card with the transit application
  const commuter = makeCard('transit-only.json'); // a transit-only card (T=1)
  const LOST = String(cardFile('ssc-2.00.json')['cardNumber']);

  /** Reads basic information; records `card.read` or `card.refused`. Returns the info or the error code. */
  const read = async (t: DemoTerminal, card: SimulatedCard, service: string): Promise<BasicInfo | string> => {
    try {
      const info = await t.session(card, (s) => readBasicInfo({ card: s.card, psam: s.psam, hotlist: t.hotlist}));
      t.counters.reads++;
      await t.record('card.read', { service, cardNumber: info.cardNumber, generation: info.generation, algorithm: info.algorithm, region: info.regionCode });
      return info;
    } catch (e) {
      const code = codeOf(e);
      t.counters.refusals++;
      const cardNumber = code === 'TERM_ERR_CARD_HOTLISTED' ? LOST : undefined;
      await t.record('card.refused', { service, code, ...(cardNumber === undefined ? {} : { cardNumber }) });
      return code;
    }
  };

  const fare = async (t: DemoTerminal, card: SimulatedCard, amount: number, cut = false): Promise<string> => {
    const before = balanceOf(card);
    try {
      const r = await t.session(card, (s) => purchase({ card: s.card, psam: s.psam, journal: t.journal, amount, hotlist: t.hotlist }), cut ? (ch) => ch.removeWhen((a) => a.ins === 0x54, 'after') : undefined);
      t.counters.fares++;
      if (r.kind === 'completed') {
        await t.record('txn.transit.fare', { amount, state: 'completed', tac: r.record.tac ?? null, balanceAfter: r.balanceAfter, cardSerial: r.record.cardSerial }, 'transaction');
        return `completed: ${yuan(amount)} debited, balance ${yuan(before)} → ${yuan(r.balanceAfter)}`;
      }
      const rec = r.recovery.record;
      await t.record('txn.transit.recovered', { amount: rec.amount, outcome: r.recovery.kind, tac: rec.tac ?? null, balanceAfter: balanceOf(card), cardSerial: rec.cardSerial }, 'transaction');
      return `recovered:${r.recovery.kind}`;
    } catch (e) {
      const code = codeOf(e);
      await t.record(code === 'TERM_ERR_PURCHASE_INTERRUPTED' ? 'txn.transit.interrupted' : 'transit.refused', { amount, code }, code === 'TERM_ERR_PURCHASE_INTERRUPTED' ? 'transaction' : 'event');
      return code;
    }
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
      await until('unlisted everywhere', () => terminals.every((t) => !t.hotlist.has(LOST)), 10_000);
      say(`(replay: card ${LOST} from a previous run taken off the hotlist)`);
    }

    // 08:30 service hall
    say('08:30  Zhang San comes to the service hall kiosk.');
    const z = await read(kiosk, zhang, 'identity');
    at(kiosk, typeof z === 'string' ? `read failed: ${z}` : `card ${z.cardNumber} read: ${maskName(z.name)}, ${z.generation} card (${z.algorithm.toUpperCase()}), PSAM authentication OK`);

    // 09:10 hospital: a 3.00 card, one wrong PIN, then the right one
    say('09:10  Abdurahman registers at the hospital counter.');
    const a = await read(hospital, abdu, 'registration');
    at(hospital, typeof a === 'string' ? `read failed: ${a}` : `card ${a.cardNumber} read: ${maskName(a.name)}, ${a.generation} card (${a.algorithm.toUpperCase()}), external authentication OK`);
    const wrongPin = abduPin === '0000' ? '9999' : '0000';
    try {
      await hospital.session(abdu, (s) => verifyPin({ card: s.card, pin: wrongPin }));
      at(hospital, 'unexpected: a wrong PIN was accepted');
    } catch (e) {
      hospital.counters.pinErrors++;
      const tries = (e as { details?: { triesLeft?: number } }).details?.triesLeft;
      await hospital.record('pin.verify', { ok: false, code: codeOf(e), ...(tries === undefined ? {} : { triesLeft: tries }) });
      at(hospital, `PIN mistyped: ${codeOf(e)}${tries === undefined ? '' : `, ${tries} tries left`}`);
    }
    try {
      await hospital.session(abdu, (s) => verifyPin({ card: s.card, pin: abduPin }));
      await hospital.record('pin.verify', { ok: true });
      at(hospital, 'PIN verified on the second attempt; the counter resets');
    } catch (e) {
      at(hospital, `PIN verify failed: ${codeOf(e)}`);
    }

    // 10:05 loss report at the kiosk
    say('10:05  Zhang San has lost his card; he reports it at the kiosk (PIN verified first).');
    const reported = Date.now();
    try {
      await kiosk.session(zhang, (s) => verifyPin({ card: s.card, pin: zhangPin }));
      await kiosk.record('card.loss-report', { cardNumber: LOST, pinVerified: true, reason: 'lost' }, 'transaction');
      at(kiosk, `loss report for ${LOST} recorded in the outbox and sent`);
    } catch (e) {
      at(kiosk, `PIN verify failed: ${codeOf(e)}`);
    }
    const listed = await until('server hotlist', async () => (await api('GET', `/api/v1/hotlist/${LOST}`)).status === 200, 15_000);
    const everywhere = listed && (await until('terminals hotlist', () => terminals.filter((t) => t.agent.state.kind === 'online').every((t) => t.hotlist.has(LOST)), 15_000));
    const lossToEverywhereMs = everywhere ? Date.now() - reported : undefined;
    say(everywhere ? `        server listed ${LOST}; every online terminal holds the new hotlist ${lossToEverywhereMs} ms after the report` : `        the hotlist did not reach every terminal in time (listed on server: ${listed})`);

    // 11:00 the finder tries the lost card at the pharmacy and the library
    say('11:00  Someone found the card and tries it at the pharmacy and at the library gate.');
    const refusedAt: string[] = [];
    for (const t of [pharmacy1, library]) {
      const r = await read(t, zhang, t === library ? 'entry' : 'settlement');
      if (r === 'TERM_ERR_CARD_HOTLISTED') refusedAt.push(t.name);
      at(t, typeof r === 'string' ? `card ${LOST} REFUSED: ${r}` : `unexpected: card ${r.cardNumber} accepted`);
    }
    const liAtLibrary = await read(library, li, 'entry');
    at(library, typeof liAtLibrary === 'string' ? `read failed: ${liAtLibrary}` : `card ${liAtLibrary.cardNumber} (${maskName(liAtLibrary.name)}) admitted`);

    // 17:40 transit fares
    say('17:40  Rush hour at the transit gates.');
    at(gate1, `Li Si taps: ${await fare(gate1, li, 200)}`);
    const before = balanceOf(commuter);
    const cut = await fare(gate1, commuter, 200, true);
    at(gate1, `a commuter pulls the card away during DEBIT FOR PURCHASE: ${cut} (journal keeps the fare pending)`);
    const again = await fare(gate1, commuter, 200);
    const after = balanceOf(commuter);
    at(gate1, `the same card taps again: ${again.startsWith('recovered') ? `GET TRANSACTION PROVE settled the pending fare (${again.slice(10)}), no second debit` : again}; balance ${yuan(before)} → ${yuan(after)}`);
    const interruptedFare = { amount: 200, balanceBefore: before, balanceAfter: after, recovery: again };

    // 18:00 configuration push to the pharmacies
    say('18:00  The fleet admin pushes a new configuration to the pharmacy group.');
    const doc: TerminalConfigDocument = { ...EXAMPLE_TERMINAL_CONFIG, name: `pharmacy POS ${new Date().toISOString().slice(0, 16)}`, services: { ...EXAMPLE_TERMINAL_CONFIG.services, ecardQr: true, transit: false, lossReport: false }, kiosk: { ...EXAMPLE_TERMINAL_CONFIG.kiosk, enabled: false } };
    let created = await api('POST', '/api/v1/configs', { id: 'pharmacy', name: 'pharmacy POS', document: doc });
    if (created.status === 409) created = await api('PUT', '/api/v1/configs/pharmacy', { document: doc });
    const configVersion = (created.json as { version?: number } | undefined)?.version;
    const assigned = await api('PUT', '/api/v1/groups/pharmacies/config', { configId: 'pharmacy' });
    const pharmacies = [pharmacy1, pharmacy2];
    const configApplied = configVersion !== undefined && assigned.status === 200 &&
      (await until('config applied', () => pharmacies.every((t) => t.agent.config?.version === configVersion), 15_000));
    const configAppliedBy = pharmacies.filter((t) => configVersion !== undefined && t.agent.config?.version === configVersion).map((t) => t.name);
    say(configApplied ? `        config 'pharmacy' v${configVersion} fetched, checked (sha-256) and applied by ${configAppliedBy.join(' and ')}` : `        config push incomplete (HTTP ${created.status}/${assigned.status}; applied by ${configAppliedBy.join(', ') || 'none'})`);

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
    const asCustodian = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> => {
      const r = await fetch(`${server.httpUrl}${path}`, {
        method, headers: { authorization: `Bearer ${custodianToken ?? ''}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await r.text();
      return { status: r.status, json: text.length > 0 ? (JSON.parse(text) as unknown) : undefined };
    };
    const ik = custodianToken === undefined ? undefined : await asCustodian('GET', '/api/v1/key-sets/import-key');
    if (custodianToken === undefined) skip(`no key-custodian token (HTTP ${tok.status})`);
    else if (ik === undefined || ik.status !== 200) skip(`the server offers no import key (HTTP ${ik?.status})`);
    else {
      // The custodian's side: clear keys only in this process's memory, wrapped for the server's import key.
      const material = transitTestKeys();
      const wrapped = wrapKeySetForImport((ik.json as { publicKey: string }).publicKey, material);
      for (const k of material) k.key.fill(0);
      const imp = await asCustodian('POST', '/api/v1/key-sets', { keySetId: KEY_SET_ID, description: `demo transit keys ${new Date().toISOString().slice(0, 10)}`, ...wrapped });
      const imported = imp.json as { version?: number; keys?: { role: string; kcv: string }[] } | undefined;
      if (imp.status !== 201 || imported?.version === undefined) skip(`import refused (HTTP ${imp.status}: ${JSON.stringify(imp.json)})`);
      else {
        say(`        key set '${KEY_SET_ID}' v${imported.version} imported wrapped under an ECDH import key: ${(imported.keys ?? []).map((k) => `${k.role} KCV ${k.kcv}`).join(', ')}`);
        const asg = await asCustodian('PUT', `/api/v1/groups/${KEYS_GROUP}/key-set`, { keySetId: KEY_SET_ID, version: imported.version });
        const job = (asg.json as { job?: { id: string; seq: number; expectedKcv: string } } | undefined)?.job;
        if (asg.status !== 200 || job === undefined) skip(`assignment refused (HTTP ${asg.status})`);
        else {
          say(`        assigned to group ${KEYS_GROUP}: key job ${job.id} (version ${job.seq}), expected key-set check value ${job.expectedKcv}`);
          type Entry = { terminalId: string; status: string; reportedKcv: string | null; error: string | null };
          let entries: Entry[] = [];
          const settled = await until('key job', async () => {
            entries = ((await api('GET', `/api/v1/key-jobs/${job.id}`)).json as { terminals?: Entry[] } | undefined)?.terminals ?? [];
            return gates.every((g) => entries.some((e) => e.terminalId === g.terminalId && e.status !== 'queued' && e.status !== 'in-progress'));
          }, 20_000);
          const succeededBy: string[] = [];
          for (const g of gates) {
            const e = entries.find((x) => x.terminalId === g.terminalId);
            if (e?.status === 'succeeded' && e.reportedKcv === job.expectedKcv) {
              succeededBy.push(g.name);
              at(g, `key job succeeded: ${g.keystore?.list().length ?? 0} purse keys v${g.keystore?.version} loaded under the terminal's KBPK, acknowledged KCV ${e.reportedKcv}`);
            } else at(g, `key job ${e?.status ?? 'not listed'}${e?.error == null ? '' : ` (${e.error})`}${settled ? '' : ' (timed out waiting)'}`);
          }
          keyJob = { id: job.id, expectedKcv: job.expectedKcv, succeededBy };
          if (succeededBy.length === gates.length) keyRollout = 'done';
          else notes.push(`key rollout incomplete: succeeded on ${succeededBy.join(', ') || 'no gate'}`);
          // The gate without a physical PSAM takes a fare with the soft SAM on the delivered keys.
          const softGate = gates.find((g) => !g.hasPsam);
          if (softGate !== undefined) {
            softSamFare = await fare(softGate, li, 200);
            at(softGate, `no physical PSAM; Li Si taps on the way home, the soft SAM computes MAC1 and checks MAC2 with the delivered keys: ${softSamFare}`);
          }
        }
      }
    }
    const drained = await until('outboxes drained', () => terminals.every((t) => t.outbox.stats().pending === 0), 15_000);
    say(`── end of the scripted day: ${drained ? 'every outbox acknowledged by the server' : 'some outbox records not yet acknowledged'} ──────────────`);
    return { lostCard: LOST, refusedAt, lossToEverywhereMs, interruptedFare, configVersion, configAppliedBy, keyRollout, keyJob, softSamFare, notes };
  };

  let dayRun: Promise<DayOutcome> | undefined;
  const live = (everyMs = 3_000): void => {
    const visitors = [abdu, li];
    let n = 0;
    const tick = async (): Promise<void> => {
      n++;
      const pick = n % 4;
      if (pick === 0) {
        const t = byName('library-gate');
        const r = await read(t, visitors[n % 2]!, 'entry');
        if (typeof r === 'string') at(t, `entry refused: ${r}`);
      } else if (pick === 1) {
        const t = byName(n % 8 === 1 ? 'transit-gate-1' : 'transit-gate-2');
        const r = await fare(t, commuter, 1);
        if (!r.startsWith('completed')) at(t, `fare: ${r}`);
      } else if (pick === 2) {
        const t = byName(n % 8 === 2 ? 'hall-kiosk' : 'hospital-pos');
        await read(t, abdu, 'identity');
      } else {
        const t = byName(n % 8 === 3 ? 'pharmacy-pos-1' : 'pharmacy-pos-2');
        await read(t, li, 'settlement');
      }
      if (n % 20 === 0) say(`live: ${terminals.reduce((s, t) => s + t.appended, 0)} events recorded by the terminals so far`);
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
    live, stop,
  };
}
