/**
 * Durable memory of used e-card codes, so that a code accepted once is refused again after a
 * terminal restart [ONECARD, docs/ecard-qr.md §4.4]. One line per accepted code,
 * `<expiry ms> <keyId:nonce>`, appended and fsync'd before the verifier answers; entries are kept
 * only until the code could no longer pass the time check, so the file is bounded by the codes
 * of one validity window: it is rewritten with the live entries only (atomic replace, 0600) when
 * it was loaded with expired lines or has grown past twice the live entries. A torn last line
 * (power loss mid-append) belongs to a code that was never accepted and is ignored.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TerminalError } from '../errors.ts';
import { writeFileAtomic } from '../agent/secure-files.ts';

const LINE = /^(\d{1,16}) ([0-9A-Fa-f]{1,64}:[0-9A-Fa-f]{1,64})$/;

/** The verifier's view of the durable replay memory. */
export interface EcardReplayLog {
  /** Entries read at open whose expiry is not before `now` (key → expiry ms). */
  readonly loaded: ReadonlyMap<string, number>;
  /**
   * Records one accepted code; resolves once it is on disk. `live` gives the verifier's current
   * entries for a compaction. Rejects `TERM_ERR_ECARD_REPLAY_STORE`.
   */
  record(key: string, expiresAt: number, live: () => Iterable<readonly [string, number]>): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens (creating its directory) the replay log at `path`, dropping entries expired at `now`.
 * @throws TerminalError `TERM_ERR_ECARD_REPLAY_STORE` (unreadable file)
 */
export function openEcardReplayLog(path: string, now: number): EcardReplayLog {
  let text = '';
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new TerminalError('TERM_ERR_ECARD_REPLAY_STORE', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, {}, { cause: e });
  }
  const loaded = new Map<string, number>();
  let lines = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    lines++;
    const m = LINE.exec(line);
    if (m === null) continue;
    const exp = Number(m[1]);
    if (exp >= now && (loaded.get(m[2]!) ?? 0) < exp) loaded.set(m[2]!, exp);
  }
  let written = lines;
  let compactFirst = lines > loaded.size;
  let fh: FileHandle | undefined;
  let chain: Promise<void> = Promise.resolve();

  const compact = async (live: Iterable<readonly [string, number]>): Promise<void> => {
    if (fh !== undefined) { await fh.close(); fh = undefined; }
    const entries = [...live];
    await writeFileAtomic(path, entries.map(([k, exp]) => `${exp} ${k}\n`).join(''));
    written = entries.length;
  };

  return {
    loaded,
    record(key, expiresAt, live) {
      const run = chain.then(async () => {
        try {
          if (compactFirst || written > 64 && written > 2 * loadedSize(live)) {
            compactFirst = false;
            await compact(live());
            return;
          }
          fh ??= await open(path, 'a', 0o600);
          await fh.write(`${expiresAt} ${key}\n`);
          await fh.sync();
          written++;
        } catch (e) {
          throw new TerminalError('TERM_ERR_ECARD_REPLAY_STORE', `${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, {}, { cause: e });
        }
      });
      chain = run.catch(() => undefined);
      return run;
    },
    async close() {
      await chain;
      if (fh !== undefined) { await fh.close(); fh = undefined; }
    },
  };
}

function loadedSize(live: () => Iterable<readonly [string, number]>): number {
  let n = 0;
  for (const _ of live()) n++;
  return n;
}
