/** Runs `onecard-sim` (bin/onecard-sim.js) as a child process for the command-line tests. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../bin/onecard-sim.js');

export interface SimProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** The exit code (null when killed by a signal). */
  readonly exit: Promise<number | null>;
  /** The first stdout line matching `re`, once it has been written. */
  line(re: RegExp): Promise<string>;
  out(): string;
  err(): string;
}

export function runSim(args: string[]): SimProcess {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  const line = async (re: RegExp): Promise<string> => {
    for (;;) {
      const m = stdout.split('\n').find((l) => re.test(l));
      if (m !== undefined) return m;
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { child, exit, line, out: () => stdout, err: () => stderr };
}
