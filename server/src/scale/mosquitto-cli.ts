/**
 * `onecard-server mosquitto-sync`: writes Mosquitto's `password_file` and `acl_file` from the
 * terminal registry (the store in `--data-dir`, or `--store postgres://…`) into `--out`, sends
 * SIGHUP to Mosquitto when `--pid-file` is given, and with `--listen host:port` also writes a
 * matching `mosquitto.conf`. The server's broker password comes from `ONECARD_BROKER_PASSWORD`
 * (else its existing entry is kept).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ServerError } from '../errors.ts';
import { openStore, storeSpec } from '../store/open.ts';
import { renderMosquittoConf, syncMosquitto } from './mosquitto.ts';

export interface CliIo {
  stdout(s: string): void;
  stderr(s: string): void;
}

const FLAGS = ['--data-dir', '--store', '--out', '--broker-username', '--pid-file', '--listen', '--persistence-dir', '--run-as'] as const;

export const MOSQUITTO_SYNC_USAGE = `Usage: onecard-server mosquitto-sync --out DIR [--data-dir DIR | --store postgres://…]
         [--broker-username onecard-server] [--pid-file FILE] [--listen HOST:PORT [--persistence-dir DIR] [--run-as USER]]

Writes DIR/password_file (PBKDF2-SHA512, as mosquitto_passwd) and DIR/acl_file from the terminal
registry. Terminals whose password was not captured at enrolment by a server running with
--mosquitto-dir DIR are listed as missing: re-key them. ONECARD_BROKER_PASSWORD sets the server's
own entry. --pid-file: send SIGHUP to Mosquitto afterwards. --listen: also write DIR/mosquitto.conf.`;

/** Runs the subcommand; returns the exit code. */
export async function runMosquittoSyncCli(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: CliIo): Promise<number> {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') { io.stdout(`${MOSQUITTO_SYNC_USAGE}\n`); return 0; }
    const v = argv[i + 1];
    if (!(FLAGS as readonly string[]).includes(a) || v === undefined) { io.stderr(`mosquitto-sync: bad option ${a}\n${MOSQUITTO_SYNC_USAGE}\n`); return 2; }
    args.set(a, v);
    i++;
  }
  const out = args.get('--out');
  if (out === undefined) { io.stderr(`mosquitto-sync: --out is required\n${MOSQUITTO_SYNC_USAGE}\n`); return 2; }
  const dataDir = args.get('--data-dir') ?? env.ONECARD_DATA_DIR ?? './data';
  const storeUrl = args.get('--store') ?? env.ONECARD_STORE_URL;
  const username = args.get('--broker-username') ?? env.ONECARD_BROKER_USERNAME ?? 'onecard-server';
  const pidFile = args.get('--pid-file') ?? env.ONECARD_MOSQUITTO_PID_FILE;
  const listen = args.get('--listen');
  try {
    const spec = storeSpec(storeUrl, join(dataDir, 'onecard.db'));
    if (spec.kind === 'sqlite') mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const store = await openStore(spec);
    try {
      const r = await syncMosquitto({ store, dir: out, serverUsername: username, serverPassword: env.ONECARD_BROKER_PASSWORD, pidFile });
      if (listen !== undefined) {
        const m = /^(.+):(\d{1,5})$/.exec(listen);
        if (m === null) throw new ServerError('SRV_ERR_CONFIG', '--listen must be HOST:PORT', { option: 'listen' });
        const persistenceDir = args.get('--persistence-dir');
        if (persistenceDir !== undefined) mkdirSync(persistenceDir, { recursive: true, mode: 0o750 });
        writeFileSync(join(out, 'mosquitto.conf'), renderMosquittoConf({
          host: m[1]!, port: Number(m[2]), dir: resolve(out),
          ...(persistenceDir !== undefined ? { persistenceDir: resolve(persistenceDir) } : {}),
          ...(pidFile !== undefined ? { pidFile: resolve(pidFile) } : {}),
          ...(args.get('--run-as') !== undefined ? { user: args.get('--run-as')! } : {}),
        }), { mode: 0o640 });
      }
      io.stdout(`${JSON.stringify({ event: 'mosquitto-sync', out, terminals: r.terminals, written: r.written, missing: r.missing, reloaded: r.reloaded })}\n`);
      return 0;
    } finally {
      await store.close();
    }
  } catch (e) {
    if (e instanceof ServerError) { io.stderr(`mosquitto-sync: ${e.message}\n${e.code}\n`); return 1; }
    throw e;
  }
}
