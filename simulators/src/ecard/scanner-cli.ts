/**
 * `onecard-sim scanner --pty PATH [--control-port N]`: a simulated serial e-card QR scanner on a
 * pseudo-terminal (the terminal's `ecard.scanners[{link: "serial", path: PATH}]`). Each code "read"
 * — `POST /scan {"text": "OC1:…"}` on the control port or a stdin line `scan TEXT` — goes out as
 * the scanner sends it: the text and a CR ({@link serialScannerBytes}). The log gives the length only.
 */
import * as http from 'node:http';
import * as readline from 'node:readline';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { SimulatorError } from '../errors.ts';
import { parsePtyDeviceArgs } from '../cli/options.ts';
import { openPtyLine } from '../pty/line.ts';
import { serialScannerBytes } from './scanner.ts';

const HELP = `Usage: onecard-sim scanner --pty PATH [--control-port N] [--log-level LEVEL]

  --pty PATH          symlink to create for the pseudo-terminal slave (the terminal's ecard.scanners[].path)
  --control-port N    HTTP control API on 127.0.0.1:N (0 = any free port): POST /scan {"text":"OC1:…"}
  --log-level LEVEL   pino level (default info)
stdin commands: scan TEXT`;

const PRINTABLE = /^[\x20-\x7e]{1,1024}$/;

/** Runs the command; resolves with the exit status once the scanner is closed (SIGINT/SIGTERM). */
export async function scannerCommand(args: readonly string[]): Promise<number> {
  const opts = parsePtyDeviceArgs(args, HELP);
  if ('exit' in opts) return opts.exit;
  const { controlPort } = opts;
  const log = pino({ level: opts.logLevel, base: { component: 'onecard-sim-scanner' } }, pino.destination(2));
  let line;
  try {
    line = openPtyLine({ path: opts.pty });
  } catch (e) {
    throw new SimulatorError('SIM_ERR_ECARD_DEVICE', `cannot make the pseudo-terminal ${opts.pty}`, { path: opts.pty }, { cause: e });
  }
  const scanner = line;
  const scan = (text: unknown): { ok: boolean; error?: string } => {
    if (typeof text !== 'string' || !PRINTABLE.test(text)) return { ok: false, error: 'text: 1..1024 printable ASCII characters' };
    scanner.write(serialScannerBytes(text));
    log.info({ event: 'scan', length: text.length }, 'code scanned');
    return { ok: true };
  };
  let server: http.Server | undefined;
  let port: number | undefined;
  if (controlPort !== undefined) {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const reply = (status: number, body: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== '/scan') return reply(404, { ok: false, error: 'not found' });
        let body: { text?: unknown };
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { text?: unknown };
        } catch {
          return reply(400, { ok: false, error: 'body is not JSON' });
        }
        const r = scan(body.text);
        return reply(r.ok ? 200 : 400, r);
      });
    });
    const s = server;
    port = await new Promise<number>((resolve, reject) => {
      s.once('error', reject);
      s.listen(controlPort, '127.0.0.1', () => resolve((s.address() as AddressInfo).port));
    });
  }
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (l) => {
    const m = /^scan (\S+)$/.exec(l.trim());
    process.stdout.write(`${JSON.stringify({ event: 'control', command: 'scan', ...(m === null ? { ok: false, error: 'usage: scan TEXT' } : scan(m[1])) })}\n`);
  });
  const stop = (): void => void scanner.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.stdout.write(`${JSON.stringify({ event: 'ready', pty: scanner.path, device: scanner.ptsName, ...(port === undefined ? {} : { controlPort: port }) })}\n`);
  await scanner.closed;
  rl.close();
  await new Promise<void>((r) => (server === undefined ? r() : server.close(() => r())));
  log.flush();
  return 0;
}
