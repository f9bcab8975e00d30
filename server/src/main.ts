/**
 * `onecard-server`: reads the configuration, opens the store and keys in the data directory,
 * starts the HTTP API and the embedded broker, prints one JSON `ready` line, and shuts down
 * cleanly on SIGTERM/SIGINT. The only place that touches the environment, the disk and ports.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseServerConfig, usage } from './config.ts';
import { ServerError } from './errors.ts';
import { startServer } from './server.ts';
import { runPackageCli } from './updates/package-cli.ts';
import { loadMasterKey } from './keys/key-crypto.ts';
import { runMosquittoSyncCli } from './scale/mosquitto-cli.ts';

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'package') return runPackageCli(argv.slice(1), { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) });
  if (argv[0] === 'mosquitto-sync') return runMosquittoSyncCli(argv.slice(1), process.env, { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) });
  let parsed;
  try {
    parsed = parseServerConfig(argv, process.env, (p) => readFileSync(p, 'utf8'));
  } catch (e) {
    if (e instanceof ServerError) {
      process.stderr.write(`onecard-server: ${e.message}\n${e.code}\nRun onecard-server --help for the options.\n`);
      return 2;
    }
    throw e;
  }
  if (parsed.help) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const cfg = parsed.config;
  mkdirSync(cfg.dataDir, { recursive: true, mode: 0o700 });
  const running = await startServer({ config: cfg, dbPath: join(cfg.dataDir, 'onecard.db'), adminTokenPreset: process.env.ONECARD_ADMIN_TOKEN, masterKey: loadMasterKey(process.env, (p) => new Uint8Array(readFileSync(p))) });
  if (running.bootstrapToken !== undefined) {
    process.stdout.write(`${JSON.stringify({ event: 'admin-token', token: running.bootstrapToken, note: 'first admin token, shown once: keep it safe' })}\n`);
  }
  process.stdout.write(`${JSON.stringify({ event: 'ready', http: running.httpUrl, mqtt: running.mqttUrl, docs: `${running.httpUrl}/docs`, connections: running.connectionBudget })}\n`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      running.app.log.info({ signal: sig }, 'shutting down');
      void running.close().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: unknown) => {
  process.stderr.write(`onecard-server: ${err instanceof Error ? err.message : String(err)}\n${err instanceof ServerError ? err.code : 'SRV_ERR_INTERNAL'}\n`);
  process.exitCode = 1;
});
