/**
 * Progress display of the simulated fleet: one line rewritten in place on a TTY, a plain line every
 * few seconds otherwise (logs, CI). Pure formatting in {@link formatFleetProgress}.
 */
import type { FleetStats } from './fleet.ts';

/** One human-readable status line. */
export function formatFleetProgress(phase: string, s: Readonly<FleetStats>, elapsedMs: number): string {
  return [
    `[${(elapsedMs / 1000).toFixed(1).padStart(6)} s] ${phase.padEnd(8)}`,
    `enrolled ${s.enrolled}/${s.terminals}`,
    `connected ${s.connected}`,
    `births ${s.births}`,
    `config v${s.configVersion} ${s.configAtVersion}/${s.terminals}${s.configRejected > 0 ? ` (${s.configRejected} rejected)` : ''}`,
    `events ${s.eventsAcked}/${s.eventsQueued} acked`,
    ...(s.retransmitted > 0 ? [`${s.retransmitted} resent`] : []),
    `tele ${s.telemetry}`,
    ...(s.reconnects > 0 ? [`reconnects ${s.reconnects}`] : []),
    ...(s.errors > 0 ? [`errors ${s.errors}`] : []),
  ].join(' | ');
}

export interface ProgressSink {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/** Redraws (TTY) or prints (otherwise) the progress line; `done()` ends with a newline. */
export class ProgressDisplay {
  readonly #out: ProgressSink;
  readonly #tty: boolean;
  readonly #everyMs: number;
  #last = -Infinity;
  #drawn = false;

  constructor(out: ProgressSink, opts: { lineEveryMs?: number } = {}) {
    this.#out = out;
    this.#tty = out.isTTY === true;
    this.#everyMs = opts.lineEveryMs ?? 5_000;
  }

  update(line: string, nowMs: number, force = false): void {
    if (this.#tty) {
      const cols = (this.#out as { columns?: number }).columns ?? 160;
      this.#out.write(`\r\u001b[2K${line.slice(0, Math.max(20, cols - 1))}`);
      this.#drawn = true;
      return;
    }
    if (!force && nowMs - this.#last < this.#everyMs) return;
    this.#last = nowMs;
    this.#out.write(`${line}\n`);
  }

  done(line: string): void {
    if (this.#tty) this.#out.write(`\r\u001b[2K${line}\n`);
    else this.#out.write(`${line}\n`);
    this.#drawn = false;
  }

  get drawn(): boolean {
    return this.#drawn;
  }
}
