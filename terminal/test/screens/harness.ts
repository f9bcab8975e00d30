/**
 * Test-only set-up shared by the screens suite: the fleet server (box.ts), a simulated reader on a
 * pseudo-terminal with its HTTP control API (insert/remove cards), and a real terminal process —
 * `onecard-terminal enroll` then `onecard-terminal run --data-dir DIR` with the kiosk and desk
 * screens switched on — whose whole output is kept for the log scan. Pages are opened the way the
 * kiosk launcher does: a launch code minted with the API token (`requestPageLaunchUrl`). The
 * terminal can be restarted with extra settings (a PIN pad), the reader unplugged and plugged
 * back, and a simulated PIN pad (`onecard-sim pinpad`) and e-card QR scanner (`onecard-sim scanner`)
 * started for it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { requestPageLaunchUrl } from '../../src/api/launch.ts';
import { CARDS, REPO, TERMINAL_BIN, startFleetServer, terminalCli, until, type FleetServer } from '../e2e/box.ts';

const SIM_BIN = join(REPO, 'simulators/bin/onecard-sim.js');

export interface ScreensBox {
  readonly dir: string;
  readonly server: FleetServer;
  readonly apiUrl: string;
  readonly token: string;
  readonly terminalId: string;
  /** Everything the terminal and the simulators wrote so far. */
  logs(): string;
  insert(file: string): Promise<void>;
  remove(): Promise<void>;
  /** Unplugs the reader (the simulator process ends). */
  unplug(): void;
  /** Plugs a fresh simulated reader back in at the same path (empty slot); resolves when the terminal sees it. */
  replug(): Promise<void>;
  /** Starts the simulated PIN pad (once) and returns its path, for `pinpad.path`. */
  startPinPad(): Promise<string>;
  /** The holder presses keys on the simulated PIN pad (digits, B, E, C). */
  press(keys: string): Promise<void>;
  /** Starts the simulated serial e-card QR scanner (once) and returns its path, for `ecard.scanners[].path`. */
  startScanner(): Promise<string>;
  /** The scanner reads `text` (an e-card code). */
  scan(text: string): Promise<void>;
  /** The simulated PIN pad's state: `{prompting, count, prompts}`. */
  padStatus(): Promise<{ prompting: boolean; count: number; prompts: number }>;
  /** Cuts (`false`) or restores (`true`) the terminal's MQTT link to the fleet server. */
  fleetLink(up: boolean): void;
  /** Whether the fleet server lists the terminal as connected. */
  fleetSeesTerminal(): Promise<boolean>;
  /** Restarts the terminal process with `extra` merged into its local file (page sessions end). */
  restartTerminal(extra?: Record<string, unknown>): Promise<void>;
  launchUrl(page: 'kiosk' | 'desk'): Promise<string>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Spawns `onecard-sim ARGS --control-port 0`, keeps its output, resolves with the control port. */
async function spawnSim(args: readonly string[], out: (s: string) => void): Promise<{ proc: ChildProcess; controlPort: number }> {
  const proc = spawn(process.execPath, [SIM_BIN, ...args, '--control-port', '0', '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stderr!.on('data', (d: Buffer) => out(String(d)));
  let seen = '';
  const controlPort = await new Promise<number>((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      out(String(d));
      seen += String(d);
      const m = /"event":"ready".*?"controlPort":(\d+)/.exec(seen);
      if (m) resolve(Number(m[1]));
    });
    proc.once('exit', (c) => reject(new Error(`simulator ${args[0]} exited ${c}`)));
  });
  return { proc, controlPort };
}

async function post(port: number, verb: string, body: unknown): Promise<unknown> {
  const r = await fetch(`http://127.0.0.1:${port}/${verb}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (r.status >= 300) throw new Error(`simulator ${verb}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** With `oidc`, the fleet server also runs the card-login OpenID Provider (docs/login.md). */
export async function startScreensBox(o: { oidc?: boolean } = {}): Promise<ScreensBox> {
  const dir = mkdtempSync(join(tmpdir(), 'screens-'));
  let out = '';
  const keep = (s: string): void => void (out += s);
  const server = await startFleetServer({ dir, ...(o.oidc === true ? { oidc: true } : {}) });
  const readerArgs = ['reader', '--link', 'serial', '--pty', join(dir, 'reader'), '--model', 'gemcore-sim-pro2', '--psam', join(CARDS, 'psam.json')];
  let reader = await spawnSim(readerArgs, keep);
  let pad: { proc: ChildProcess; controlPort: number } | undefined;
  let scanner: { proc: ChildProcess; controlPort: number } | undefined;
  const dataDir = join(dir, 'data');
  const enrolled = await terminalCli(['enroll', '--server', server.httpUrl, '--token', await server.enrolmentToken('hall'), '--data-dir', dataDir, '--name', 'hall-kiosk-1', '--kind', 'kiosk']);
  if (enrolled.code !== 0) throw new Error(`enroll: ${enrolled.stderr}`);
  const terminalId = /enrolled: terminal (\S+)/.exec(enrolled.stdout)?.[1] ?? '';
  // The terminal reaches the broker through a relay the suite can cut: "fleet server unreachable".
  const identityFile = join(dataDir, 'identity.json');
  const identity = JSON.parse(readFileSync(identityFile, 'utf8')) as { mqtt: { url: string } };
  const broker = new URL(identity.mqtt.url);
  let linkUp = true;
  const piped = new Set<Socket>();
  const held = new Set<Socket>();
  const wire = (inbound: Socket): void => {
    const outbound = connect(Number(broker.port), broker.hostname);
    for (const [x, y] of [[inbound, outbound], [outbound, inbound]] as const) {
      piped.add(x);
      x.pipe(y);
      x.on('error', () => y.destroy());
      x.on('close', () => { piped.delete(x); y.destroy(); });
    }
    inbound.resume();
  };
  // Cut: open connections drop and new ones hang unanswered (a partition, not a refusal), so the
  // terminal's reconnect attempt completes as soon as the link is back.
  const relay = createServer({ pauseOnConnect: true }, (inbound) => {
    if (linkUp) return wire(inbound);
    held.add(inbound);
    inbound.on('close', () => held.delete(inbound));
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
  identity.mqtt.url = `mqtt://127.0.0.1:${(relay.address() as { port: number }).port}`;
  writeFileSync(identityFile, `${JSON.stringify(identity, null, 2)}\n`, { mode: 0o600 });
  const port = await freePort();
  const token = randomBytes(24).toString('hex');
  const apiUrl = `http://127.0.0.1:${port}`;
  const readerUp = async (): Promise<void> => void (await until('terminal API and reader up', async () => {
    const r = await fetch(`${apiUrl}/v1/readers`, { headers: { 'x-onecard-token': token } }).catch(() => undefined);
    if (r?.status !== 200) return false;
    const b = (await r.json()) as { readers: { status: string }[] };
    return b.readers[0]?.status === 'ok';
  }, 90_000, 200));
  let term: ChildProcess;
  const startTerminal = async (extra: Record<string, unknown>): Promise<void> => {
    writeFileSync(join(dataDir, 'terminal.json'), JSON.stringify({
      readers: [{ id: 'main', link: 'serial', path: join(dir, 'reader'), model: 'gemcore-sim-pro2', psamSlot: 1 }],
      api: { port, token },
      screens: { kiosk: true, desk: true },
      log: { level: 'debug' },
      ...extra,
    }));
    term = spawn(process.execPath, [TERMINAL_BIN, 'run', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    term.stdout!.on('data', (d: Buffer) => keep(String(d)));
    term.stderr!.on('data', (d: Buffer) => keep(String(d)));
    await readerUp();
  };
  const stopTerminal = async (): Promise<void> => {
    if (term.exitCode !== null || term.signalCode !== null) return;
    const exited = new Promise((r) => term.once('exit', r));
    term.kill('SIGTERM');
    await exited;
  };
  await startTerminal({});
  return {
    dir, server, apiUrl, token, terminalId,
    logs: () => out,
    insert: async (file) => void (await post(reader.controlPort, 'insert', { file: file.startsWith('/') ? file : join(CARDS, file) })),
    remove: async () => void (await post(reader.controlPort, 'remove', {})),
    unplug: () => void reader.proc.kill('SIGTERM'),
    async replug() {
      reader = await spawnSim(readerArgs, keep);
      await readerUp();
    },
    async startPinPad() {
      pad ??= await spawnSim(['pinpad', '--pty', join(dir, 'pinpad')], keep);
      return join(dir, 'pinpad');
    },
    async startScanner() {
      scanner ??= await spawnSim(['scanner', '--pty', join(dir, 'scanner')], keep);
      return join(dir, 'scanner');
    },
    async scan(text) {
      if (scanner === undefined) throw new Error('no scanner started');
      await post(scanner.controlPort, 'scan', { text });
    },
    async press(keys) {
      if (pad === undefined) throw new Error('no PIN pad started');
      await post(pad.controlPort, 'press', { keys });
    },
    async padStatus() {
      if (pad === undefined) throw new Error('no PIN pad started');
      const r = await fetch(`http://127.0.0.1:${pad.controlPort}/status`);
      return ((await r.json()) as { status: { prompting: boolean; count: number; prompts: number } }).status;
    },
    async restartTerminal(extra = {}) {
      await stopTerminal();
      await startTerminal(extra);
    },
    fleetLink(up) {
      linkUp = up;
      if (!up) for (const s of piped) s.destroy();
      else for (const s of held) { held.delete(s); wire(s); }
    },
    async fleetSeesTerminal() {
      const r = await server.call('GET', '/api/v1/terminals?online=true');
      return ((r.body as { terminals?: { id: string }[] }).terminals ?? []).some((x) => x.id === terminalId);
    },
    launchUrl: (page) => requestPageLaunchUrl({ apiUrl, token, page }),
    async close() {
      await stopTerminal();
      reader.proc.kill('SIGTERM');
      pad?.proc.kill('SIGTERM');
      scanner?.proc.kill('SIGTERM');
      for (const s of [...piped, ...held]) s.destroy();
      await new Promise<void>((r) => relay.close(() => r()));
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
