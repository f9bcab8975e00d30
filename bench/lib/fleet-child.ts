/**
 * The simulated terminals' child process (`bench/fleet-worker.ts`) seen from a bench: spawned with
 * the open-file soft limit raised to the hard one, driven over IPC one command at a time, so the
 * bench process measures only the server it runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { WorkerCommand, WorkerReply } from '../fleet-worker.ts';

export class FleetChild {
  readonly #child: ChildProcess;
  #waiters: ((r: WorkerReply) => void)[] = [];

  constructor() {
    const script = fileURLToPath(new URL('../fleet-worker.ts', import.meta.url));
    // `ulimit -n` is inherited: raise the soft limit to the hard one for the child.
    const cmd = `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "${process.execPath}" --max-old-space-size=4096 --import tsx "${script}"`;
    this.#child = spawn('/bin/sh', ['-c', cmd], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ONECARD_FLEET_WORKER: '1' } });
    this.#child.on('message', (m: WorkerReply) => this.#waiters.shift()?.(m));
  }

  next(): Promise<WorkerReply> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async call(c: WorkerCommand): Promise<WorkerReply & { ok: true }> {
    const p = this.next();
    this.#child.send(c);
    const r = await p;
    if (!r.ok) throw new Error(`worker ${c.cmd}: ${r.error}`);
    return r as WorkerReply & { ok: true };
  }

  kill(): void {
    if (this.#child.exitCode === null) this.#child.kill('SIGKILL');
  }
}
