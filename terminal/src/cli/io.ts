/**
 * The seam between CLI logic and the process: subcommands get argv, a lazy stdin reader and two
 * writers, and return an exit code. Only `main.ts` binds these to `process`; tests pass strings.
 */

/** What a subcommand may touch. */
export interface CliIo {
  /** Reads all of standard input as text; called only when a command needs it (e.g. `-`). */
  readonly readStdin: () => Promise<string>;
  readonly stdout: (text: string) => void;
  /** Writes bytes to standard output as they are (e.g. GBK text for `read-card --encoding gbk`). */
  readonly stdoutBytes?: (bytes: Uint8Array) => void;
  readonly stderr: (text: string) => void;
}

/** One subcommand of `onecard-terminal`. */
export interface CliCommand {
  /** One line for the top-level help. */
  readonly summary: string;
  /** Runs the command with the arguments after its name; resolves to the process exit code. */
  readonly run: (argv: readonly string[], io: CliIo) => Promise<number>;
}

/** Exit codes shared by all subcommands. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;
