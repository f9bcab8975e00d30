/**
 * Test-only set-up shared by the screens suite: the fleet server (box.ts), a simulated reader on a
 * pseudo-terminal with its HTTP control API (insert/remove cards), and a real terminal process —
 * `onecard-terminal enroll` then `onecard-terminal run --data-dir DIR` with the kiosk and desk
 * screens switched on — whose whole output is kept for the log scan. Pages are opened the way the
 * kiosk launcher does: a launch code minted with the API token (`requestPageLaunchUrl`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
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
  /** Everything the terminal and the simulator wrote so far. */
  logs(): string;
  insert(file: string): Promise<void>;
  remove(): Promise<void>;
  /** Unplugs the reader (the simulator process ends). */
  unplug(): void;
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

/** With `oidc`, the fleet server also runs the card-login OpenID Provider (docs/login.md). */
export async function startScreensBox(o: { oidc?: boolean } = {}): Promise<ScreensBox> {
  const dir = mkdtempSync(join(tmpdir(), 'screens-'));
  let out = '';
  const server = await startFleetServer({ dir, ...(o.oidc === true ? { oidc: true } : {}) });
  const sim: ChildProcess = spawn(process.execPath, [SIM_BIN, 'reader', '--link', 'serial', '--pty', join(dir, 'reader'), '--model', 'gemcore-sim-pro2',
    '--psam', join(CARDS, 'psam.json'), '--control-port', '0', '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
  sim.stderr!.on('data', (d: Buffer) => (out += String(d)));
  const controlPort = await new Promise<number>((resolve, reject) => {
    sim.stdout!.on('data', (d: Buffer) => {
      out += String(d);
      const m = /"event":"ready".*?"controlPort":(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    sim.once('exit', (c) => reject(new Error(`simulator exited ${c}`)));
  });
  const dataDir = join(dir, 'data');
  const enrolled = await terminalCli(['enroll', '--server', server.httpUrl, '--token', await server.enrolmentToken('hall'), '--data-dir', dataDir, '--name', 'hall-kiosk-1', '--kind', 'kiosk']);
  if (enrolled.code !== 0) throw new Error(`enroll: ${enrolled.stderr}`);
  const terminalId = /enrolled: terminal (\S+)/.exec(enrolled.stdout)?.[1] ?? '';
  const port = await freePort();
  const token = randomBytes(24).toString('hex');
  writeFileSync(join(dataDir, 'terminal.json'), JSON.stringify({
    readers: [{ id: 'main', link: 'serial', path: join(dir, 'reader'), model: 'gemcore-sim-pro2', psamSlot: 1 }],
    api: { port, token },
    screens: { kiosk: true, desk: true },
    log: { level: 'debug' },
  }));
  const term = spawn(process.execPath, [TERMINAL_BIN, 'run', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  term.stdout!.on('data', (d: Buffer) => (out += String(d)));
  term.stderr!.on('data', (d: Buffer) => (out += String(d)));
  const apiUrl = `http://127.0.0.1:${port}`;
  await until('terminal API and reader up', async () => {
    const r = await fetch(`${apiUrl}/v1/readers`, { headers: { 'x-onecard-token': token } }).catch(() => undefined);
    if (r?.status !== 200) return false;
    const b = (await r.json()) as { readers: { status: string }[] };
    return b.readers[0]?.status === 'ok';
  }, 90_000, 200);
  const control = async (verb: string, body: unknown): Promise<void> => {
    const r = await fetch(`http://127.0.0.1:${controlPort}/${verb}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (r.status >= 300) throw new Error(`simulator ${verb}: ${r.status} ${await r.text()}`);
  };
  return {
    dir, server, apiUrl, token, terminalId,
    logs: () => out,
    insert: (file) => control('insert', { file: file.startsWith('/') ? file : join(CARDS, file) }),
    remove: () => control('remove', {}),
    unplug: () => void sim.kill('SIGTERM'),
    launchUrl: (page) => requestPageLaunchUrl({ apiUrl, token, page }),
    async close() {
      term.kill('SIGTERM');
      sim.kill('SIGTERM');
      await new Promise((r) => (term.exitCode !== null ? r(undefined) : term.once('exit', r)));
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
