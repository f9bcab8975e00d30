/**
 * `onecard-terminal run --config FILE`: validates the configuration, starts the runtime (readers,
 * services, hotlist, journal, e-card verifier and scanners, local API) and runs until SIGINT or
 * SIGTERM. `--check` validates the file and exits. The API token may come from ONECARD_API_TOKEN.
 */
import { createLogger } from '../log/index.ts';
import { loadTerminalConfig, startRuntime } from '../runtime/index.ts';
import { EXIT, type CliCommand } from './io.ts';
import { reportFailure } from './card-cli.ts';

export const RUN_HELP = `Usage: onecard-terminal run --config FILE [--check]

Start the terminal runtime: the readers of the configuration, card services, hotlist, purchase
journal, e-card QR verifier and scanners, and the local HTTP + WebSocket API (127.0.0.1:8930 by
default; OpenAPI at /docs). See terminal/config.example.json and docs/local-api.md.

Options:
  --config FILE   terminal configuration (JSON)
  --check         validate the configuration and exit (0 valid, 8 invalid)
  -h, --help      show this help

Environment: ONECARD_API_TOKEN overrides api.token.
Exit status: 0 stopped by a signal or --check ok, 2 usage error, 8 configuration error, 1 other.
`;

export const runCommand: CliCommand = {
  summary: 'run the terminal runtime and local API (--config FILE)',
  async run(argv, io) {
    let config: string | undefined;
    let check = false;
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      if (a === '--help' || a === '-h') {
        io.stdout(RUN_HELP);
        return EXIT.ok;
      } else if (a === '--config') config = argv[++i];
      else if (a.startsWith('--config=')) config = a.slice(9);
      else if (a === '--check') check = true;
      else {
        io.stderr(`onecard-terminal run: unknown option '${a}'\n\n${RUN_HELP}`);
        return EXIT.usage;
      }
    }
    if (config === undefined) {
      io.stderr(`onecard-terminal run: missing --config FILE\n\n${RUN_HELP}`);
      return EXIT.usage;
    }
    try {
      const cfg = await loadTerminalConfig(config);
      if (check) {
        io.stdout(`${config}: valid (${cfg.readers.length} reader(s), API ${cfg.api.host}:${cfg.api.port})\n`);
        return EXIT.ok;
      }
      const logger = createLogger({ level: cfg.log.level, base: { terminalId: cfg.terminalId }, ...(cfg.log.file === undefined ? {} : { destination: cfg.log.file }) });
      const token = process.env['ONECARD_API_TOKEN'];
      const rt = await startRuntime(cfg, { logger, ...(token === undefined || token === '' ? {} : { token }) });
      io.stderr(`onecard-terminal: local API on ${rt.url} (docs at ${rt.url}/docs)\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await rt.close();
      return EXIT.ok;
    } catch (e) {
      return reportFailure(io, 'run', e);
    }
  },
};
