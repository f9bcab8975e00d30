/**
 * `onecard-terminal` dispatch: a table from subcommand name to {@link CliCommand}. Add a subcommand
 * by adding one entry to {@link COMMANDS}. `runCli` is pure with respect to the process (argv, stdin
 * and writers are injected) so it is tested directly.
 */
import { atrCommand } from './atr-command.ts';
import { readCardCommand } from './read-card-command.ts';
import { pinCommand } from './pin-command.ts';
import { purchaseCommand } from './purchase-command.ts';
import { readersCommand } from './readers-command.ts';
import { runCommand } from './run-command.ts';
import { enrollCommand } from './enroll-command.ts';
import { updateCommand } from '../updater/cli.ts';
import { EXIT, type CliCommand, type CliIo } from './io.ts';

/** Subcommands by name. */
export const COMMANDS: Readonly<Record<string, CliCommand>> = {
  atr: atrCommand,
  'read-card': readCardCommand,
  pin: pinCommand,
  purchase: purchaseCommand,
  readers: readersCommand,
  run: runCommand,
  enroll: enrollCommand,
  update: updateCommand,
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
  return cmd.run(rest, io);
}
