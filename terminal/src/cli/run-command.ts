/**
 * `onecard-terminal run`: starts the whole terminal through the composition root
 * (`startTerminal`, runtime/terminal.ts) and runs until SIGINT or SIGTERM. Two ways to name it:
 * `--data-dir DIR` (an enrolled terminal; optional local file DIR/terminal.json or `--config FILE`)
 * or `--config FILE` alone (a full configuration file). `--root` names the A/B install root the
 * updater writes. When a software update has been switched in, the process stops cleanly and
 * exits with {@link EXIT_RESTART} so its supervisor (systemd `Restart=always`) starts `current`.
 */
import { createLogger } from '../log/index.ts';
import { resolveTerminalConfig, startTerminal, type Terminal } from '../runtime/index.ts';
import { TerminalError } from '../errors.ts';
import { EXIT, type CliCommand, type CliIo } from './io.ts';
import { exitCodeOf } from './card-cli.ts';

/** Exit status after a software update was switched in: the supervisor starts the new release. */
export const EXIT_RESTART = 75;

export const RUN_HELP = `Usage: onecard-terminal run --data-dir DIR [--config FILE] [--root DIR] [--check]
       onecard-terminal run --config FILE [--root DIR] [--check]

Start the terminal: readers and card services (identity, PIN, e-card QR, transit, venue entry,
loss report), purchase journal, hotlist, the local HTTP + WebSocket API (127.0.0.1:8930 by
default; OpenAPI at /docs) and, for an enrolled terminal, the fleet agent: outbox, fleet
configuration (last good copy kept on disk), hotlist deltas, transit key jobs into the keystore
(soft SAM fares when no PSAM is configured) and software update jobs into the A/B install root.

A new box:
  onecard-terminal enroll --server URL --token T --data-dir /var/lib/onecard --name hall-kiosk
  onecard-terminal run --data-dir /var/lib/onecard

The local file (DIR/terminal.json, optional) pins only what the fleet cannot know; every field
is optional, everything else comes from the fleet configuration:
  {
    "readers": [{ "id": "front", "link": "serial", "path": "/dev/ttyUSB0",
                  "model": "gempc-twin", "psamSlot": 1 }],        pinned: fleet readers ignored
    "api": { "host": "127.0.0.1", "port": 8930, "token": "…" },    default: DIR/api-token (created)
    "updates": { "root": "/opt/onecard", "pinnedKeys": ["ed25519:…"] },
    "softSam": { "terminalNumber": "639900000001" },
    "ecard": { … }, "deviceNumber": "…", "log": { "level": "info", "file": "…" }
  }
A full configuration file (--config FILE without --data-dir) is described in
terminal/config.example.json and docs/local-api.md.

Options:
  --data-dir DIR  the data dir 'onecard-terminal enroll' wrote (env ONECARD_DATA_DIR)
  --config FILE   with --data-dir: the local file instead of DIR/terminal.json;
                  alone: a full configuration file
  --root DIR      A/B install root of software updates (releases/, current → releases/<v>);
                  the running version is the one 'current' names (env ONECARD_ROOT)
  --check         validate the configuration (and enrolment) and exit (0 valid, 8 invalid)
  -h, --help      show this help

Environment: ONECARD_API_TOKEN overrides api.token.
Exit status: 0 stopped by a signal or --check ok, ${EXIT_RESTART} a software update was switched in (the
supervisor starts it), 2 usage error, 8 configuration error, 1 other.
`;

type Parsed = { help: boolean; check: boolean; dataDir?: string; config?: string; root?: string };

function parse(argv: readonly string[]): Parsed | string {
  const out: Parsed = { help: false, check: false };
  const valued = { '--data-dir': 'dataDir', '--config': 'config', '--root': 'root' } as const;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') { out.help = true; continue; }
    if (a === '--check') { out.check = true; continue; }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (Object.hasOwn(valued, name)) {
      const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (value === undefined || value === '') return `option '${name}' needs a value`;
      out[valued[name as keyof typeof valued]] = value;
      continue;
    }
    return `unknown option '${a}'`;
  }
  return out;
}

function fail(io: CliIo, err: unknown, dataDir: string | undefined): number {
  if (err instanceof TerminalError) {
    io.stderr(`onecard-terminal run: ${err.code}: ${err.message}\n`);
    if (err.code === 'TERM_ERR_IDENTITY_MISSING') io.stderr(`hint: enrol first: onecard-terminal enroll --server URL --token T --data-dir ${dataDir ?? 'DIR'}\n`);
    if (err.code === 'TERM_ERR_CONFIG') io.stderr('hint: see onecard-terminal run --help for the local file\n');
    return exitCodeOf(err);
  }
  io.stderr(`onecard-terminal run: ${err instanceof Error ? err.message : String(err)}\n`);
  return EXIT.failed;
}

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const p = parse(argv);
  if (typeof p === 'string') { io.stderr(`onecard-terminal run: ${p}\n\n${RUN_HELP}`); return EXIT.usage; }
  if (p.help) { io.stdout(RUN_HELP); return EXIT.ok; }
  const env = (k: string): string | undefined => { const v = process.env[k]; return v === undefined || v === '' ? undefined : v; };
  const dataDir = p.dataDir ?? (p.config === undefined ? env('ONECARD_DATA_DIR') : undefined);
  const root = p.root ?? env('ONECARD_ROOT');
  if (dataDir === undefined && p.config === undefined) {
    io.stderr(`onecard-terminal run: missing --data-dir DIR (or --config FILE)\n\n${RUN_HELP}`);
    return EXIT.usage;
  }
  const where = { ...(dataDir === undefined ? {} : { dataDir }), ...(p.config === undefined ? {} : { configFile: p.config }), ...(root === undefined ? {} : { installRoot: root }) };
  try {
    if (p.check) {
      const { config: cfg, name } = await resolveTerminalConfig({ ...where, withApiToken: false });
      io.stdout(`${p.config ?? dataDir}: valid (${cfg.readers.length === 0 ? 'readers from the fleet configuration' : `${cfg.readers.length} reader(s)`}, API ${cfg.api.host}:${cfg.api.port}, terminal ${cfg.terminalId}${name === undefined ? '' : ` (${name})`}${cfg.updates === undefined ? '' : `, install root ${cfg.updates.root}`})\n`);
      return EXIT.ok;
    }
    const pre = await resolveTerminalConfig({ ...where, withApiToken: false });
    const cfg = pre.config;
    const logger = createLogger({ level: cfg.log.level, ...(cfg.log.file === undefined ? {} : { destination: cfg.log.file }) });
    const token = env('ONECARD_API_TOKEN');
    let stop!: (code: number) => void;
    const stopped = new Promise<number>((resolve) => { stop = resolve; });
    const term: Terminal = await startTerminal({
      ...where,
      // The runtime could not come back after a restart it asked for: let the supervisor start afresh.
      onRestartFailed: () => stop(EXIT.failed),
      deps: {
        logger,
        ...(token === undefined ? {} : { token }),
        // A switched-in release starts in a fresh process: stop here, the supervisor starts `current`.
        startRelease: async (release) => {
          logger.info({ version: release.version }, 'software update switched in: stopping for the supervisor to start it');
          stop(EXIT_RESTART);
        },
      },
    });
    const shown = term.name === undefined ? term.terminalId : `${term.terminalId} (${term.name})`;
    io.stderr(`onecard-terminal: terminal ${shown} ${term.runtime.softwareVersion}: local API on ${term.url} (docs at ${term.url}/docs)${dataDir !== undefined && pre.config.api.token === undefined && token === undefined ? `; API token in ${dataDir}/api-token` : ''}\n`);
    // The handlers stay installed while the terminal closes: a second signal (Ctrl-C to the process
    // group, then the supervisor's SIGTERM) must not kill it half-way through closing its outbox,
    // journal and readers. A signal during close is logged and otherwise ignored.
    let closing = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (closing) logger.info({ signal }, 'already stopping: signal ignored while the terminal closes');
      else stop(EXIT.ok);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const code = await stopped;
    closing = true;
    try {
      await term.close();
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      // Closed, but the process still has to drain and exit (and, under a coverage run, write its
      // profile). A late second signal (Ctrl-C to the group, then the supervisor's SIGTERM) must not
      // turn that clean exit into death by signal: from here on signals are ignored.
      ignoreLateSignals();
    }
    return code;
  } catch (e) {
    return fail(io, e, dataDir);
  }
}

let lateSignalsIgnored = false;
/** Installs, once per process, handlers that ignore SIGINT and SIGTERM after the terminal has closed. */
function ignoreLateSignals(): void {
  if (lateSignalsIgnored) return;
  lateSignalsIgnored = true;
  const ignore = (): void => { /* the terminal has closed; the process is exiting */ };
  process.on('SIGINT', ignore);
  process.on('SIGTERM', ignore);
}

export const runCommand: CliCommand = { summary: 'run the terminal (--data-dir DIR after enroll, or --config FILE)', run };
