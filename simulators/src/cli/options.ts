/**
 * Option parsing shared by the `onecard-sim` device commands: the control port every command
 * takes, and the whole option set of the commands that are one pseudo-terminal device with a
 * control API (`pinpad`, `scanner`): `--pty PATH [--control-port N] [--log-level LEVEL] [-h]`.
 */
import { parseArgs } from 'node:util';

/** `--control-port N` as a port number (0 = any free port); undefined when absent, null when not a port. */
export function parseControlPort(raw: string | undefined): number | undefined | null {
  if (raw === undefined) return undefined;
  const port = Number(raw);
  return Number.isInteger(port) && port >= 0 && port < 65536 ? port : null;
}

export interface PtyDeviceOptions {
  readonly pty: string;
  readonly controlPort: number | undefined;
  readonly logLevel: string;
}

/**
 * Parses a pty device command's arguments. On `--help` it writes `help` to stdout, on a missing
 * `--pty` or a bad `--control-port` a message to stderr, and returns the exit status instead.
 * @throws the `TypeError` of `node:util` parseArgs for an unknown option or a missing value
 */
export function parsePtyDeviceArgs(args: readonly string[], help: string): PtyDeviceOptions | { readonly exit: number } {
  const { values } = parseArgs({
    args: [...args],
    options: { pty: { type: 'string' }, 'control-port': { type: 'string' }, 'log-level': { type: 'string', default: 'info' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help === true) {
    process.stdout.write(`${help}\n`);
    return { exit: 0 };
  }
  if (values.pty === undefined) {
    process.stderr.write(`--pty PATH is required\n${help}\n`);
    return { exit: 2 };
  }
  const controlPort = parseControlPort(values['control-port']);
  if (controlPort === null) {
    process.stderr.write('--control-port needs a port number\n');
    return { exit: 2 };
  }
  return { pty: values.pty, controlPort, logLevel: values['log-level'] };
}
