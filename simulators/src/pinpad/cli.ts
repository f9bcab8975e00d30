/**
 * `onecard-sim pinpad --pty PATH [--control-port N]`: a simulated PIN pad on a pseudo-terminal
 * (the terminal's `pinpad: {link: "serial", path: PATH}`), with the holder's key presses from a
 * small HTTP API on 127.0.0.1 (`POST /press {keys}` — digits, B correction, E enter, C cancel —
 * and `GET /status` {prompting, count, prompts}) or from stdin lines (`press KEYS`, `status`).
 * The log says what the pad did (prompt, key counts, enter, cancel), never which digits.
 */
import * as http from 'node:http';
import * as readline from 'node:readline';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { SimulatorError } from '../errors.ts';
import { parsePtyDeviceArgs } from '../cli/options.ts';
import { openSerialPinPad, type SerialPinPad } from './pty-pinpad.ts';

const HELP = `Usage: onecard-sim pinpad --pty PATH [--control-port N] [--log-level LEVEL]

  --pty PATH          symlink to create for the pseudo-terminal slave (the terminal's pinpad.path)
  --control-port N    HTTP control API on 127.0.0.1:N (0 = any free port): POST /press {"keys":"1234E"},
                      GET /status
  --log-level LEVEL   pino level (default info)
keys: 0-9 digits, B correction, E enter, C cancel; stdin commands: press KEYS | status`;

function press(pad: SerialPinPad, keys: unknown): { ok: boolean; error?: string; code?: string; status?: unknown } {
  if (typeof keys !== 'string' || keys.length === 0 || keys.length > 64) return { ok: false, error: 'keys: 1..64 characters', code: 'SIM_ERR_PINPAD_KEY' };
  try {
    pad.press(keys);
    return { ok: true, status: pad.status() };
  } catch (e) {
    return e instanceof SimulatorError ? { ok: false, error: e.message, code: e.code } : { ok: false, error: String(e) };
  }
}

function startControl(pad: SerialPinPad, port: number): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, body: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      const verb = (req.url ?? '/').split('?')[0];
      if (req.method === 'GET' && verb === '/status') return reply(200, { ok: true, status: pad.status() });
      if (req.method !== 'POST' || verb !== '/press') return reply(404, { ok: false, error: 'not found' });
      let body: { keys?: unknown };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { keys?: unknown };
      } catch {
        return reply(400, { ok: false, error: 'body is not JSON' });
      }
      const r = press(pad, body.keys);
      return reply(r.ok ? 200 : 400, r);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve({ port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => server.close(() => r())) }));
  });
}

/** Runs the command; resolves with the exit status once the pad is closed (SIGINT/SIGTERM). */
export async function pinpadCommand(args: readonly string[]): Promise<number> {
  const opts = parsePtyDeviceArgs(args, HELP);
  if ('exit' in opts) return opts.exit;
  const { controlPort } = opts;
  const log = pino({ level: opts.logLevel, base: { component: 'onecard-sim-pinpad' } }, pino.destination(2));
  const pad = openSerialPinPad({
    path: opts.pty,
    onEvent: (e) => {
      if (e.type === 'line-ignored') log.warn({ event: e.type, length: e.length }, 'line from the terminal not understood');
      else log.info({ event: e.type, ...('count' in e ? { count: e.count } : {}), ...('length' in e ? { length: e.length } : {}) }, `pinpad ${e.type}`);
    },
  });
  const control = controlPort === undefined ? undefined : await startControl(pad, controlPort);
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const [verb, keys] = line.trim().split(/\s+/);
    const r = verb === 'press' ? press(pad, keys) : verb === 'status' ? { ok: true, status: pad.status() } : { ok: false, error: `unknown command ${verb ?? ''}` };
    process.stdout.write(`${JSON.stringify({ event: 'control', command: verb, ...r })}\n`);
  });
  const stop = (): void => void pad.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.stdout.write(`${JSON.stringify({ event: 'ready', pty: pad.path, device: pad.ptsName, ...(control === undefined ? {} : { controlPort: control.port }) })}\n`);
  await pad.closed;
  rl.close();
  await control?.close();
  log.flush();
  return 0;
}
