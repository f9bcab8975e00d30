/**
 * Package download over HTTP(S) with resume: bytes already on disk (`<dest>.part`) are kept and
 * the rest is asked for with `Range: bytes=<have>-` and `If-Range: "<sha256>"` [RFC 9110 §14.2];
 * a 200 answer restarts from zero. Interrupted transfers are retried from where they stopped.
 * The finished file must have the announced size and SHA-256 before it is renamed into place.
 */
import { open, rename, rm, stat, truncate } from 'node:fs/promises';
import { TerminalError } from '../errors.ts';
import { hashFile } from './verify.ts';

export interface DownloadOptions {
  readonly url: string;
  readonly dest: string;
  readonly size: number;
  readonly sha256: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly fetchImpl?: typeof fetch;
  /** Attempts in all (default 5). */
  readonly attempts?: number;
}

async function sizeOf(path: string): Promise<number> {
  try { return (await stat(path)).size; } catch { return 0; }
}

/**
 * Downloads to `dest`. Returns how many bytes were resumed rather than fetched again.
 * @throws TerminalError `TERM_ERR_UPDATE_DOWNLOAD`, `TERM_ERR_UPDATE_HASH`
 */
export async function downloadWithResume(o: DownloadOptions): Promise<{ resumedFrom: number; requests: number }> {
  const f = o.fetchImpl ?? fetch;
  const part = `${o.dest}.part`;
  let firstResume = -1;
  let requests = 0;
  let lastErr: unknown;
  for (let attempt = 0; attempt < (o.attempts ?? 5); attempt++) {
    let have = await sizeOf(part);
    if (have > o.size) { await truncate(part, 0); have = 0; }
    if (firstResume < 0) firstResume = have;
    if (have === o.size) break;
    try {
      requests++;
      const res = await f(o.url, { headers: { ...o.headers, ...(have > 0 ? { range: `bytes=${have}-`, 'if-range': `"${o.sha256}"` } : {}) } });
      if (res.status === 200) {
        if (have > 0) { await truncate(part, 0); have = 0; }
      } else if (res.status === 206) {
        const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
        if (m === null || Number(m[1]) !== have || Number(m[3]) !== o.size) throw new TerminalError('TERM_ERR_UPDATE_DOWNLOAD', 'unexpected Content-Range');
      } else if (res.status === 416) {
        await truncate(part, 0);
        continue;
      } else {
        throw new TerminalError('TERM_ERR_UPDATE_DOWNLOAD', `HTTP ${res.status}`, { status: res.status });
      }
      if (res.body === null) throw new TerminalError('TERM_ERR_UPDATE_DOWNLOAD', 'empty body');
      // Each chunk is written before the next is read, so an interrupted transfer keeps what arrived.
      const fh = await open(part, have > 0 ? 'a' : 'w', 0o600);
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) await fh.write(chunk);
      } finally {
        await fh.close();
      }
      if (await sizeOf(part) === o.size) break;
    } catch (err) {
      lastErr = err;
      if (err instanceof TerminalError && err.code === 'TERM_ERR_UPDATE_DOWNLOAD' && err.details.status !== undefined && Number(err.details.status) < 500) throw err;
    }
  }
  if (await sizeOf(part) !== o.size) {
    throw new TerminalError('TERM_ERR_UPDATE_DOWNLOAD', 'transfer incomplete after retries', {}, { cause: lastErr });
  }
  const { sha256 } = await hashFile(part);
  if (sha256 !== o.sha256) {
    await rm(part, { force: true });
    throw new TerminalError('TERM_ERR_UPDATE_HASH', 'downloaded archive hash differs from the announced one');
  }
  await rename(part, o.dest);
  return { resumedFrom: Math.max(firstResume, 0), requests };
}
