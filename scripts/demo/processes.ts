/**
 * Terminals as the processes a real box runs: `onecard-terminal enroll --server URL --token T
 * --data-dir DIR --name NAME` once, then `onecard-terminal run --data-dir DIR` as a child process
 * (terminal/bin/onecard-terminal.js, the shipped CLI), with the local file `DIR/terminal.json`
 * pinning what the fleet cannot know: the reader (a simulated one on a pty), the local API bind
 * and token, the soft-SAM terminal number. Output goes to a log file; the local API (with the
 * token, as a kiosk front-end uses it) is how the caller talks to the terminal.
 *
 * {@link TerminalProcess.stop} sends SIGTERM and waits for the process to exit (SIGKILL after a
 * grace period). {@link killAllSync} is for the parent's `exit` handler, so that a crashing parent
 * leaves no terminal behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requestPageLaunchUrl } from '@onecard/terminal/src/api/launch.ts';

/** The shipped CLI. */
export const TERMINAL_BIN = fileURLToPath(new URL('../../terminal/bin/onecard-terminal.js', import.meta.url));

/** Every `onecard-terminal` child this process started and that has not exited yet. */
const live = new Set<ChildProcess>();

/** A free TCP port on 127.0.0.1 (closed again; the caller binds it next). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Output of a finished CLI run. */
export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `onecard-terminal ARGS` to completion (enrol, check). */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [TERMINAL_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    live.add(p);
    p.once('exit', () => live.delete(p));
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
    p.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    p.once('error', reject);
    p.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The enrolment in a data dir, as `identity.json` records it (no secrets read). */
export interface EnrolledAs {
  readonly terminalId: string;
  readonly serverUrl: string;
  readonly mqttUrl: string;
}

/** Reads the terminal id and server addresses of an enrolled data dir; undefined when not enrolled. */
export function enrolledAs(dataDir: string): EnrolledAs | undefined {
  const file = join(dataDir, 'identity.json');
  if (!existsSync(file)) return undefined;
  try {
    const j = JSON.parse(readFileSync(file, 'utf8')) as { terminalId?: unknown; serverUrl?: unknown; mqtt?: { url?: unknown } };
    if (typeof j.terminalId !== 'string' || typeof j.serverUrl !== 'string' || typeof j.mqtt?.url !== 'string') return undefined;
    return { terminalId: j.terminalId, serverUrl: j.serverUrl, mqttUrl: j.mqtt.url };
  } catch {
    return undefined;
  }
}

export interface EnrolOptions {
  readonly serverUrl: string;
  readonly token: string;
  readonly dataDir: string;
  readonly name: string;
  readonly kind: string;
  /** Replace an existing enrolment (the server moved). */
  readonly force?: boolean;
}

/** `onecard-terminal enroll …`; returns the terminal id. Throws with the CLI's message on failure. */
export async function enrolTerminal(o: EnrolOptions): Promise<string> {
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  const r = await runCli(['enroll', '--server', o.serverUrl, '--token', o.token, '--data-dir', o.dataDir, '--name', o.name, '--kind', o.kind, ...(o.force === true ? ['--force'] : [])]);
  if (r.code !== 0) throw new Error(`onecard-terminal enroll (${o.name}) exited ${r.code}: ${r.stderr.trim()}`);
  const id = enrolledAs(o.dataDir)?.terminalId;
  if (id === undefined) throw new Error(`onecard-terminal enroll (${o.name}) wrote no identity`);
  return id;
}

/** The local file `DIR/terminal.json` of a demo terminal. */
export interface LocalFile {
  /** The pty link of the simulated reader. */
  readonly readerPath: string;
  /** Whether the reader has a PSAM in slot 1 (otherwise fares use the soft SAM). */
  readonly psam: boolean;
  readonly apiPort: number;
  readonly apiToken: string;
  /** 12-digit terminal number of the soft SAM. */
  readonly softSamNumber?: string;
  readonly logLevel?: string;
  /** The screens served at `/kiosk/` and `/desk/` (the `screens` switch of terminal.json). */
  readonly screens?: { readonly kiosk?: boolean; readonly desk?: boolean };
}

/** Writes `DIR/terminal.json` (mode 0600: it holds the API token). */
export function writeLocalFile(dataDir: string, f: LocalFile): void {
  const doc = {
    readers: [{ id: 'front', link: 'serial', path: f.readerPath, model: 'gemcore-sim-pro2', userSlot: 0, ...(f.psam ? { psamSlot: 1 } : {}) }],
    api: { host: '127.0.0.1', port: f.apiPort, token: f.apiToken },
    ...(f.softSamNumber === undefined ? {} : { softSam: { terminalNumber: f.softSamNumber } }),
    ...(f.screens === undefined ? {} : { screens: f.screens }),
    log: { level: f.logLevel ?? 'info' },
  };
  writeFileSync(join(dataDir, 'terminal.json'), `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
}

/** A new local API token. */
export const newApiToken = (): string => `demo-api-${randomBytes(18).toString('base64url')}`;

/** Answer of a local API call. */
export interface ApiAnswer {
  readonly status: number;
  readonly json: Record<string, unknown>;
}

/** The error code of a local API error answer (`{error: {code}}`), if any. */
export const errorCode = (a: ApiAnswer): string | undefined => (a.json['error'] as { code?: string } | undefined)?.code;

/** SIGKILLs every `onecard-terminal` child still running (enrolments included), for a parent that exits abnormally. */
export function killAllSync(): void {
  for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

/** One `onecard-terminal run --data-dir DIR` child process. */
export class TerminalProcess {
  readonly name: string;
  readonly dataDir: string;
  readonly apiUrl: string;
  readonly #token: string;
  readonly #proc: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(name: string, dataDir: string, apiPort: number, token: string, proc: ChildProcess) {
    this.name = name;
    this.dataDir = dataDir;
    this.apiUrl = `http://127.0.0.1:${apiPort}`;
    this.#token = token;
    this.#proc = proc;
    live.add(proc);
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => { live.delete(proc); resolve({ code, signal }); }));
  }

  /**
   * Starts `onecard-terminal run --data-dir DIR` (output appended to `logFile`) and waits until its
   * local API answers and its reader is up. Rejects (and kills the process) when it exits or is not
   * ready within `readyMs`.
   */
  static async start(o: { name: string; dataDir: string; apiPort: number; apiToken: string; logFile: string; readyMs?: number; env?: NodeJS.ProcessEnv }): Promise<TerminalProcess> {
    const log = openSync(o.logFile, 'a');
    let proc: ChildProcess;
    try {
      proc = spawn(process.execPath, [TERMINAL_BIN, 'run', '--data-dir', o.dataDir], { stdio: ['ignore', log, log], env: o.env ?? process.env });
    } finally {
      closeSync(log);
    }
    const t = new TerminalProcess(o.name, o.dataDir, o.apiPort, o.apiToken, proc);
    let gone: string | undefined;
    void t.exited.then((e) => { gone = `exited (code ${e.code}, signal ${e.signal}); see ${o.logFile}`; });
    const end = Date.now() + (o.readyMs ?? 60_000);
    for (;;) {
      if (gone !== undefined) throw new Error(`${o.name}: onecard-terminal run ${gone}`);
      try {
        const r = await t.api('GET', '/v1/readers');
        const readers = (r.json['readers'] ?? []) as { status?: string }[];
        if (r.status === 200 && readers.length > 0 && readers.every((x) => x.status === 'ok')) return t;
      } catch { /* not listening yet */ }
      if (Date.now() > end) {
        await t.stop();
        throw new Error(`${o.name}: local API or reader not ready after ${o.readyMs ?? 60_000} ms; see ${o.logFile}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  get pid(): number { return this.#proc.pid ?? -1; }
  get running(): boolean { return this.#proc.exitCode === null && this.#proc.signalCode === null; }

  /** A single-use launch URL of a screen (`kiosk`, `desk`) for the browser; the token stays here. */
  launchUrl(page: string): Promise<string> {
    return requestPageLaunchUrl({ apiUrl: this.apiUrl, token: this.#token, page });
  }

    /** A local API call with the token, as a kiosk front-end or HIS makes it. */
  async api(method: string, path: string, body?: unknown): Promise<ApiAnswer> {
    const r = await fetch(`${this.apiUrl}${path}`, {
      method,
      headers: { 'x-onecard-token': this.#token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    let json: Record<string, unknown> = {};
    try { json = text.length > 0 ? (JSON.parse(text) as Record<string, unknown>) : {}; } catch { json = { text }; }
    return { status: r.status, json };
  }

  /** Whether the terminal sees a card in its user slot (GET /v1/readers). */
  async cardPresent(): Promise<boolean> {
    const r = await this.api('GET', '/v1/readers');
    const readers = (r.json['readers'] ?? []) as { slots?: { role: string; present: boolean }[] }[];
    return readers.some((x) => (x.slots ?? []).some((s) => s.role === 'user' && s.present));
  }

  /**
   * SIGTERM, wait for the exit (SIGKILL after `graceMs`). Idempotent. `signalledMs`: the process
   * may already have its signal (Ctrl-C on a terminal reaches the whole process group): wait that
   * long for it to exit by itself first, so that a second signal does not cut its shutdown short.
   */
  async stop(graceMs = 10_000, signalledMs = 0): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (signalledMs > 0 && this.running) await Promise.race([this.exited, new Promise((r) => setTimeout(r, signalledMs))]);
    if (this.running) this.#proc.kill('SIGTERM');
    const timer = setTimeout(() => { if (this.running) this.#proc.kill('SIGKILL'); }, graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL (a power cut), wait for the exit. */
  async kill(): Promise<void> {
    if (this.running) this.#proc.kill('SIGKILL');
    await this.exited;
  }
}
