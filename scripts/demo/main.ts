/**
 * `npm start`: runs the OneCard demo (see demo.ts) in the foreground. Prints the dashboard URL and
 * the admin token, narrates the scripted day, then keeps the fleet busy until Ctrl-C (or SIGTERM,
 * or `--duration S` seconds) and shuts everything down: the terminal processes (SIGTERM, each
 * awaited), the pty readers, the broker and the server. Should this process die of an error, its
 * `exit` handler SIGKILLs any terminal process still running, so none is left behind.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startDemo } from './demo.ts';
import { killAllSync } from './processes.ts';

const USAGE = `Usage: npm start -- [options]   (or: node --import tsx scripts/demo/main.ts [options])

Starts the OneCard fleet server (embedded MQTT broker, SQLite store) and eight terminals (hall
kiosk, hospital POS, two pharmacy POS, two transit gates, library gate, museum gate), each an
"onecard-terminal run --data-dir DIR" process on a simulated serial reader, narrates a scripted
day through their local APIs, then keeps the terminals working until Ctrl-C.

Options:
  --fresh            wipe the data directory first (default: reuse it, terminals stay enrolled)
  --data-dir DIR     data directory (default ./.onecard-demo)
  --port N           HTTP port of the server and dashboard (default 8080; 0: the previous run's, else a free one)
  --duration S       stop by itself after S seconds (default: run until Ctrl-C)
  --interval MS      one background card action every MS milliseconds after the day (default 3000;
                     0: none, the terminals idle)
  --help             this text
`;

let args;
try {
  args = parseArgs({
    options: {
      fresh: { type: 'boolean', default: false },
      'data-dir': { type: 'string', default: '.onecard-demo' },
      port: { type: 'string', default: '8080' },
      duration: { type: 'string' },
      interval: { type: 'string', default: '3000' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  }).values;
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (args.help === true) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const num = (v: string | undefined, name: string, min: number): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`--${name} must be an integer ≥ ${min}\n`);
    process.exit(2);
  }
  return n;
};
const port = num(args.port, 'port', 0)!;
const duration = num(args.duration, 'duration', 1);
const interval = num(args.interval, 'interval', 0)!;
if (interval > 0 && interval < 100) {
  process.stderr.write('--interval must be 0 (no background actions) or at least 100\n');
  process.exit(2);
}

process.on('exit', killAllSync);

const clock = (): string => new Date().toTimeString().slice(0, 8);
const narrate = (line: string): void => void process.stdout.write(`${clock()}  ${line}\n`);

let demo: Awaited<ReturnType<typeof startDemo>> | undefined;
let stopping = false;
const shutdown = async (why: string, interrupted = false): Promise<void> => {
  if (stopping) return;
  stopping = true;
  if (demo === undefined) {
    // Still starting: end whatever terminal process is already up, and go.
    process.stderr.write(`${why} while starting: stopping\n`);
    killAllSync();
    process.exit(130);
  }
  narrate(`${why}: stopping the terminal processes, readers and the server …`);
  const force = setTimeout(() => { process.stderr.write('shutdown took too long, exiting\n'); process.exit(1); }, 30_000);
  force.unref();
  await demo.stop(interrupted);
  narrate('stopped cleanly.');
  process.exit(0);
};
// Ctrl-C on a terminal reaches the whole process group: the terminal processes have it too.
process.on('SIGINT', () => void shutdown('Ctrl-C', true));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

try {
  demo = await startDemo({ dataDir: resolve(args['data-dir'] ?? '.onecard-demo'), fresh: args.fresh === true, httpPort: port, narrate });
} catch (e) {
  const code = (e as { code?: unknown }).code;
  process.stderr.write(code === 'EADDRINUSE' ? `port ${port} is in use: try --port 0 (a free port) or another --port\n` : `the demo could not start: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
}

// The screens: their URLs, and a launch URL per screen (a single-use code that starts the page
// session in the browser; the API token never reaches the page).
const screenLines: string[] = [];
for (const t of demo.terminals) {
  for (const page of t.screens) {
    let launch: string;
    try {
      launch = await t.proc.launchUrl(page);
    } catch (e) {
      launch = `(no launch URL: ${e instanceof Error ? e.message : String(e)})`;
    }
    screenLines.push(`${`${t.name} ${page}`.padEnd(20)} ${t.proc.apiUrl}/${page}/  open once within 60 s: ${launch}`);
  }
}

process.stdout.write(`
  OneCard demo
  dashboard    ${demo.httpUrl}/
  API docs     ${demo.httpUrl}/docs
  admin token  ${demo.adminToken}
  (paste the token into the dashboard; data in ${resolve(args['data-dir'] ?? '.onecard-demo')}, logs in its logs/)
  terminals    ${demo.terminals.map((t) => `${t.name.padEnd(15)} pid ${t.proc.pid}  local API ${t.proc.apiUrl}  reader control ${t.reader.controlUrl}`).join('\n               ')}
  (each local API token is in terminals/NAME/terminal.json; a card goes in with
   curl -d '{"file":"simulators/cards/ssc-2.00.json"}' READER-CONTROL/insert)
  screens      ${screenLines.join('\n               ')}
  (a fresh launch URL: curl -H "x-onecard-token: TOKEN" -H 'content-type: application/json'
   -d '{"page":"kiosk"}' LOCAL-API/v1/session/launch, then open LOCAL-API + its "path")

`);
try {
  const outcome = await demo.day();
  for (const n of outcome.notes) narrate(`note: ${n}`);
} catch (e) {
  narrate(`the scripted day stopped: ${e instanceof Error ? e.message : String(e)}`);
}
narrate(`${interval > 0 ? `the terminals keep working (one card action every ${interval} ms)` : 'the terminals stay up, idle'}; ${duration === undefined ? 'Ctrl-C to stop' : `stopping in ${duration} s`}`);
if (interval > 0) demo.live(interval);
if (duration !== undefined) setTimeout(() => void shutdown(`${duration} s elapsed`), duration * 1000);
