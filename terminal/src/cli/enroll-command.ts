/**
 * `onecard-terminal enroll`: enrols this terminal with the fleet server using a single-use
 * token from an operator. Prints the terminal id (never the token, the MQTT password or keys).
 * Exit 0 enrolled, 1 the server refused or could not be reached, 2 usage error.
 */
import { TerminalError } from '../errors.ts';
import { enrol } from '../agent/enrol.ts';
import { EXIT, type CliCommand, type CliIo } from './io.ts';

export const ENROLL_HELP = `Usage: onecard-terminal enroll --server URL --token TOKEN --data-dir DIR [--name NAME] [--kind KIND] [--force]

Enrol this terminal with the OneCard fleet server. Generates a P-256 key pair, keeps the
private key in DIR (file mode 0600, DIR 0700), sends the public key with the enrolment token,
and stores the terminal id, MQTT credentials and the server's public key in DIR/identity.json.
Then start it with:  onecard-terminal run --data-dir DIR

Options:
  --server URL     fleet server base URL, e.g. https://fleet.example.org
  --token TOKEN    single-use enrolment token from an operator
  --data-dir DIR   the terminal's data directory (e.g. /var/lib/onecard)
  --name NAME      human name shown beside the id (dashboard, API, logs), e.g. hall-kiosk;
                   1..64 characters, no control or bidirectional-override characters
  --kind KIND      terminal kind (kiosk, pos, gate, ...); default: terminal
  --force          replace an existing enrolment in DIR (re-key)
  -h, --help       show this help

Exit status: 0 enrolled, 1 enrolment failed, 2 usage error.
`;

type Parsed = { help: boolean; force: boolean; server?: string; token?: string; dataDir?: string; kind?: string; name?: string };

function parse(argv: readonly string[]): Parsed | string {
  const out: Parsed = { help: false, force: false };
  const valued = { '--server': 'server', '--token': 'token', '--data-dir': 'dataDir', '--kind': 'kind', '--name': 'name' } as const;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') { out.help = true; continue; }
    if (a === '--force') { out.force = true; continue; }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (Object.hasOwn(valued, name)) {
      const key = valued[name as keyof typeof valued];
      const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (value === undefined || value === '') return `option '${name}' needs a value`;
      out[key] = value;
      continue;
    }
    return `unknown argument '${a}'`;
  }
  return out;
}

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const p = parse(argv);
  if (typeof p === 'string') { io.stderr(`onecard-terminal enroll: ${p}\n\n${ENROLL_HELP}`); return EXIT.usage; }
  if (p.help) { io.stdout(ENROLL_HELP); return EXIT.ok; }
  const missing = (['server', 'token', 'dataDir'] as const).filter((k) => p[k] === undefined);
  if (missing.length > 0) {
    io.stderr(`onecard-terminal enroll: missing ${missing.map((k) => (k === 'dataDir' ? '--data-dir' : `--${k}`)).join(', ')}\n\n${ENROLL_HELP}`);
    return EXIT.usage;
  }
  try {
    const id = await enrol({ serverUrl: p.server!, token: p.token!, dataDir: p.dataDir!, force: p.force, ...(p.kind !== undefined ? { kind: p.kind } : {}), ...(p.name !== undefined ? { name: p.name } : {}) });
    const shown = id.name === undefined ? id.terminalId : `${id.terminalId} (${id.name})`;
    io.stdout(`enrolled: terminal ${shown} in group ${id.groupId}\nidentity: ${p.dataDir}\n\nNext: start the terminal with\n  onecard-terminal run --data-dir ${shellQuote(p.dataDir!)}\n` +
      `(readers, API bind and update keys that the fleet cannot know go in ${shellQuote(`${p.dataDir!.replace(/\/+$/, '')}/terminal.json`)}; see onecard-terminal run --help)\n`);
    return EXIT.ok;
  } catch (e) {
    if (e instanceof TerminalError) {
      io.stderr(`onecard-terminal enroll: ${e.code}: ${e.message}\n`);
      return e.code === 'TERM_ERR_INVALID_ARGUMENT' ? EXIT.usage : EXIT.failed;
    }
    throw e;
  }
}

/** Quotes a path for a POSIX shell when it needs it. */
function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export const enrollCommand: CliCommand = { summary: 'enrol this terminal with the fleet server', run };
