/**
 * Test-only: a terminal box as deployed. The fleet server (real `buildApp` with the keys and
 * updates plugins, SQLite in memory, HTTP + MQTT on loopback ports); the A/B release layout the
 * updater writes (`releases/<v>/terminal/bin/onecard-terminal.js` → a small launcher of this
 * repository's terminal, `current` → `releases/<v>`); and the systemd unit's own commands —
 * `Environment=`, `ExecStartPre=` and `ExecStart=` read out of deploy/systemd/onecard-terminal.service
 * with its paths moved into a temp dir — run by a small supervisor that restarts like
 * `Restart=always`. Terminal runtime code never imports the server; only tests do.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { buildApp, bootstrapAdminToken } from '@onecard/server/src/app.ts';
import { openSqliteStore } from '@onecard/server/src/store/sqlite.ts';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const TERMINAL_BIN = join(REPO, 'terminal/bin/onecard-terminal.js');
export const UNIT_FILE = join(REPO, 'deploy/systemd/onecard-terminal.service');
export const ROLLBACK_SCRIPT = join(REPO, 'deploy/systemd/onecard-terminal-rollback');
const SIM_BIN = join(REPO, 'simulators/bin/onecard-sim.js');
export const CARDS = join(REPO, 'simulators/cards');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, limitMs = 60_000, everyMs = 100): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

export interface FleetServer {
  readonly app: FastifyInstance;
  readonly httpUrl: string;
  readonly mqttUrl: string;
  readonly adminToken: string;
  /** An admin-API call with a bearer token (the bootstrap admin's by default). */
  call(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }>;
  /** A token for a new admin of `role`. */
  tokenFor(role: 'viewer' | 'operator' | 'key-custodian' | 'admin'): Promise<string>;
  /** A single-use enrolment token for `groupId` (the group is created when needed). */
  enrolmentToken(groupId: string): Promise<string>;
  close(): Promise<void>;
}

/** The fleet server with transit keys (master key), software updates (`trustedKeys`) and, with `oidc`, the card-login OpenID Provider at `/oidc`. */
export async function startFleetServer(o: { dir: string; trustedKeys?: readonly string[]; oidc?: boolean }): Promise<FleetServer> {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const keys = { publicKeySpki: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'), privateKeyPkcs8: new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' })) };
  const store = openSqliteStore(':memory:');
  const mqttServer: Server = createServer();
  await new Promise<void>((r) => mqttServer.listen(0, '127.0.0.1', () => r()));
  const mqttUrl = `mqtt://127.0.0.1:${(mqttServer.address() as { port: number }).port}`;
  let httpUrl = '';
  const app = await buildApp({
    store, keys, masterKey: new Uint8Array(randomBytes(32)),
    settings: { mqttUrl, authRateLimitPerMinute: 1000 },
    ...(o.trustedKeys === undefined ? {} : { updates: { packageDir: join(o.dir, 'packages'), trustedKeys: o.trustedKeys, tickMs: 200 } }),
    ...(o.oidc === true ? { oidc: { issuer: () => `${httpUrl}/oidc` } } : {}),
  });
  mqttServer.on('connection', (socket) => app.broker.handle(socket));
  const adminToken = (await bootstrapAdminToken(store, { now: () => Date.now() }))!;
  await app.listen({ host: '127.0.0.1', port: 0 });
  httpUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const call: FleetServer['call'] = async (method, path, body, token = adminToken) => {
    const res = await fetch(`${httpUrl}${path}`, {
      method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text.length > 0 ? JSON.parse(text) : undefined };
  };
  const groups = new Set<string>();
  const clients = (): { close(): void }[] => Object.values((app.broker as unknown as { clients: Record<string, { close(): void }> }).clients ?? {});
  return {
    app, httpUrl, mqttUrl, adminToken, call,
    async tokenFor(role) {
      const r = await call('POST', '/api/v1/admin/tokens', { name: `${role} ${randomBytes(3).toString('hex')}`, role });
      if (r.status !== 201) throw new Error(`admin token: ${r.status} ${JSON.stringify(r.body)}`);
      return (r.body as { token: string }).token;
    },
    async enrolmentToken(groupId) {
      if (!groups.has(groupId)) {
        const g = await call('POST', '/api/v1/groups', { id: groupId, name: groupId });
        if (g.status !== 201 && g.status !== 409) throw new Error(`group: ${g.status}`);
        groups.add(groupId);
      }
      const r = await call('POST', '/api/v1/enrolment-tokens', { groupId });
      if (r.status !== 201) throw new Error(`enrolment token: ${r.status} ${JSON.stringify(r.body)}`);
      return (r.body as { token: string }).token;
    },
    async close() {
      for (const c of clients()) c.close();
      await new Promise<void>((r) => mqttServer.close(() => r()));
      await app.close();
      await store.close();
    },
  };
}

/** Runs `onecard-terminal ARGS` (this repository's bin) and returns its exit code and output. */
export async function terminalCli(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [TERMINAL_BIN, ...args], { env, encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

/**
 * The files of a release as a package carries them: `terminal/bin/onecard-terminal.js`, a launcher
 * that runs this repository's terminal (a real release carries the repository itself), and
 * `RELEASE` naming the version.
 */
export function writeReleaseFiles(dir: string, version: string): void {
  mkdirSync(join(dir, 'terminal', 'bin'), { recursive: true });
  writeFileSync(join(dir, 'terminal', 'bin', 'onecard-terminal.js'),
    `#!/usr/bin/env node\n// OneCard terminal release ${version} (test build): starts the terminal of the repository it was built from.\nawait import(${JSON.stringify(pathToFileURL(TERMINAL_BIN).href)});\n`, { mode: 0o755 });
  writeFileSync(join(dir, 'RELEASE'), `${version}\n`);
}

/** The A/B layout with one installed release, `current` pointing at it (what an installer leaves). */
export function installRelease(root: string, version: string): void {
  writeReleaseFiles(join(root, 'releases', version), version);
  symlinkSync(`releases/${version}`, join(root, 'current'));
}

export interface UnitCommands {
  readonly env: Record<string, string>;
  readonly pre: readonly (readonly string[])[];
  readonly start: readonly string[];
  readonly workingDirectory: string | undefined;
}

/**
 * Reads `Environment=`, `ExecStartPre=`, `ExecStart=` and `WorkingDirectory=` of the [Service]
 * section; `move` maps absolute path prefixes of the unit (e.g. `/opt/onecard`) to test paths.
 * `${VAR}` / `$VAR` in commands expand from the unit's environment, as systemd does.
 */
export function readUnit(text: string, move: Readonly<Record<string, string>>): UnitCommands {
  const relocate = (s: string): string => {
    let out = s;
    for (const [from, to] of Object.entries(move)) out = out.split(from).join(to);
    return out;
  };
  const env: Record<string, string> = {};
  const pre: string[][] = [];
  let start: string[] | undefined;
  let workingDirectory: string | undefined;
  let section = '';
  const lines = text.split('\n');
  const expand = (w: string): string => w.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, a: string | undefined, b: string | undefined) => env[(a ?? b)!] ?? '');
  const words = (v: string): string[] => v.trim().split(/\s+/).map((w) => expand(relocate(w)));
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec !== null) { section = sec[1]!; continue; }
    if (section !== 'Service') continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'Environment') {
      for (const pair of value.trim().split(/\s+/)) {
        const i = pair.indexOf('=');
        env[pair.slice(0, i)] = relocate(pair.slice(i + 1));
      }
    } else if (key === 'ExecStartPre') pre.push(words(value.replace(/^[-@+!:]+/, '')));
    else if (key === 'ExecStart') start = words(value.replace(/^[-@+!:]+/, ''));
    else if (key === 'WorkingDirectory') workingDirectory = relocate(value.trim());
  }
  if (start === undefined) throw new Error('unit has no ExecStart');
  return { env, pre, start, workingDirectory };
}

/** Where the unit's paths go in a test: install root, data dir, the rollback script's dir, node. */
export interface BoxPaths {
  readonly root: string;
  readonly dataDir: string;
  readonly libDir: string;
}

export function unitFor(p: BoxPaths): UnitCommands {
  mkdirSync(p.libDir, { recursive: true });
  copyFileSync(ROLLBACK_SCRIPT, join(p.libDir, 'onecard-terminal-rollback'));
  chmodSync(join(p.libDir, 'onecard-terminal-rollback'), 0o755);
  return readUnit(readFileSync(UNIT_FILE, 'utf8'), { '/opt/onecard': p.root, '/var/lib/onecard': p.dataDir, '/usr/local/lib/onecard': p.libDir, '/usr/bin/node': process.execPath });
}

/** One start of the unit's service. */
export interface Run {
  readonly proc: ChildProcess;
  /** Resolves with the local API URL from the start line on stderr. */
  readonly url: Promise<string>;
  /** Resolves with the exit code (or the signal name). */
  readonly exited: Promise<number | string>;
  stderr(): string;
}

/**
 * Starts the service as systemd would: ExecStartPre commands in order, then ExecStart with the
 * unit's environment and working directory; with `restart`, starts it again whenever it ends
 * (Restart=always) until {@link Supervisor.stop}.
 */
export class Supervisor {
  readonly #unit: UnitCommands;
  readonly #restart: boolean;
  readonly runs: Run[] = [];
  #stopped = false;
  #loop: Promise<void> | undefined;
  #listeners = new Set<() => void>();

  constructor(unit: UnitCommands, restart = true) {
    this.#unit = unit;
    this.#restart = restart;
  }

  get current(): Run | undefined { return this.runs[this.runs.length - 1]; }

  /** Starts the service (and, with restarts, keeps it running). Resolves with the first run. */
  async start(): Promise<Run> {
    const first = await this.#once();
    if (this.#restart) {
      this.#loop = (async () => {
        for (;;) {
          await this.current!.exited;
          if (this.#stopped) return;
          await sleep(200); // RestartSec, shortened
          if (this.#stopped) return;
          await this.#once();
        }
      })();
    }
    return first;
  }

  /** Resolves with the run after `n` runs in total have started. */
  async nthRun(n: number, limitMs = 120_000): Promise<Run> {
    return until(`run #${n}`, () => (this.runs.length >= n ? this.runs[n - 1] : undefined), limitMs);
  }

  async #once(): Promise<Run> {
    const env = { ...process.env, ...this.#unit.env };
    for (const cmd of this.#unit.pre) {
      await promisify(execFile)(cmd[0]!, cmd.slice(1), { env, ...(this.#unit.workingDirectory === undefined ? {} : { cwd: this.#unit.workingDirectory }) });
    }
    const [exe, ...args] = this.#unit.start;
    const proc = spawn(exe!, args, { env, stdio: ['ignore', 'pipe', 'pipe'], ...(this.#unit.workingDirectory === undefined ? {} : { cwd: this.#unit.workingDirectory }) });
    let err = '';
    let resolveUrl!: (u: string) => void;
    let rejectUrl!: (e: Error) => void;
    const url = new Promise<string>((res, rej) => { resolveUrl = res; rejectUrl = rej; });
    url.catch(() => undefined);
    proc.stdout!.resume();
    proc.stderr!.on('data', (d: Buffer) => {
      err += String(d);
      const m = /local API on (http:\/\/[^\s)]+)/.exec(err);
      if (m !== null) resolveUrl(m[1]!);
    });
    const exited = new Promise<number | string>((res) => proc.once('exit', (code, signal) => {
      rejectUrl(new Error(`terminal exited (${code ?? signal}) before its API answered:\n${err}`));
      res(code ?? signal ?? -1);
    }));
    const run: Run = { proc, url, exited, stderr: () => err };
    this.runs.push(run);
    for (const l of this.#listeners) l();
    return run;
  }

  /** Stops restarting and ends the current run with SIGTERM (systemctl stop). */
  async stop(): Promise<void> {
    this.#stopped = true;
    const r = this.current;
    if (r !== undefined && r.proc.exitCode === null && r.proc.signalCode === null) {
      r.proc.kill('SIGTERM');
      const t = setTimeout(() => r.proc.kill('SIGKILL'), 20_000);
      await r.exited;
      clearTimeout(t);
    }
    await this.#loop;
  }
}

/** A simulated serial reader on a pty (`onecard-sim reader`); resolves with its device path. */
export async function simulatedReader(path: string, card: string | undefined, psam?: string): Promise<{ proc: ChildProcess; device: string; send(line: string): void; close(): void }> {
  const proc = spawn(process.execPath, [SIM_BIN, 'reader', '--link', 'serial', '--pty', path, '--model', 'gemcore-sim-pro2', '--log-level', 'warn',
    ...(card === undefined ? [] : ['--card', join(CARDS, card)]), ...(psam === undefined ? [] : ['--psam', join(CARDS, psam)])], { stdio: ['pipe', 'pipe', 'pipe'] });
  proc.stderr!.resume();
  const device = await new Promise<string>((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += String(d);
      const m = /"event":"ready".*?"device":"([^"]+)"/.exec(buf);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (c) => reject(new Error(`simulator exited ${c}`)));
  });
  return { proc, device, send: (line) => void proc.stdin!.write(`${line}\n`), close: () => void proc.kill('SIGTERM') };
}
