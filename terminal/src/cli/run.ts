/**
 * `onecard-terminal` dispatch: a table from subcommand name to {@link CliCommand}. Add a subcommand
 * by adding one entry to {@link COMMANDS}; a command's module is imported only when it runs. `runCli` is pure with respect to the process (argv, stdin
 * and writers are injected) so it is tested directly.
 */
import { EXIT, type CliCommand, type CliIo } from './io.ts';

/**
 * One entry of {@link COMMANDS}: the help line, and a loader that imports the command's module
 * only when that command runs (start-up time and memory: `--help` or `atr` must not load the
 * HTTP server, serial ports or the MQTT client).
 */
export interface LazyCommand {
  /** One line for the top-level help; the same text as the loaded command's `summary`. */
  readonly summary: string;
  readonly load: () => Promise<CliCommand>;
}

/** Subcommands by name. */
export const COMMANDS: Readonly<Record<string, LazyCommand>> = {
  atr: { summary: 'analyse ATRs (readable report or --json); - reads one ATR per line from stdin', load: async () => (await import('./atr-command.ts')).atrCommand },
  'read-card': { summary: 'read a social security card (JSON or iReadCardBas)', load: async () => (await import('./read-card-command.ts')).readCardCommand },
  pin: { summary: 'verify or change the card PIN (PINs from stdin), or show its status', load: async () => (await import('./pin-command.ts')).pinCommand },
  purchase: { summary: 'transit purse purchase through the PSAM (--amount FEN)', load: async () => (await import('./purchase-command.ts')).purchaseCommand },
  readers: { summary: 'list serial ports, HID devices and PC/SC readers', load: async () => (await import('./readers-command.ts')).readersCommand },
  run: { summary: 'run the terminal (--data-dir DIR after enroll, or --config FILE)', load: async () => (await import('./run-command.ts')).runCommand },
  enroll: { summary: 'enrol this terminal with the fleet server', load: async () => (await import('./enroll-command.ts')).enrollCommand },
  update: { summary: 'Install, inspect or roll back software updates', load: async () => (await import('../updater/cli.ts')).updateCommand },
};

/** Top-level usage text. */
export function usage(): string {
  const names = Object.keys(COMMANDS).sort();
  const width = Math.max(...names.map((n) => n.length));
  return [
    'Usage: onecard-terminal <command> [options]',
    '',
    'Commands:',
    ...names.map((n) => `  ${n.padEnd(width)}  ${COMMANDS[n]!.summary}`),
    '',
    "Run 'onecard-terminal <command> --help' for a command's options.",
    '',
  ].join('\n');
}

/**
 * Runs the CLI with `argv` (the arguments after the program name) and returns the exit code:
 * 0 ok, 1 the command found a problem, 2 usage error.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr(usage());
    return EXIT.usage;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage());
    return EXIT.ok;
  }
  const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (cmd === undefined) {
    io.stderr(`onecard-terminal: unknown command '${name}'\n\n${usage()}`);
    return EXIT.usage;
  }
  return (await cmd.load()).run(rest, io);
}
