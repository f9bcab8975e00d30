/**
 * Package download over HTTP(S) with resume: bytes already on disk (`<dest>.part`) are kept and
 * the rest is asked for with `Range: bytes=<have>-` and `If-Range: "<sha256>"` [RFC 9110 §14.2];
 * a 200 answer restarts from zero. Interrupted transfers are retried from where they stopped.
 * The finished file must have the announced size and SHA-256 before it is renamed into place.
 * The announced size bounds every transfer: a `Content-Length` above what is missing is refused
 * before a byte is written, and a body that runs past it is cut at the announced size, the
 * connection aborted and the partial file discarded — a server cannot fill the disk.
 * {@link readBounded} applies the same rule to small documents (signatures, fleet JSON).
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
  /** Largest size accepted at all (default {@link MAX_DOWNLOAD_BYTES}). */
  readonly maxBytes?: number;
}

/** Largest package archive a terminal downloads: the package limits plus tar overhead. */
export const MAX_DOWNLOAD_BYTES = 1024 * 1024 * 1024 + 64 * 1024 * 1024;

const oversize = (what: string, limit: number): TerminalError =>
  new TerminalError('TERM_ERR_UPDATE_DOWNLOAD', `${what} is longer than the ${limit} bytes announced`, { reason: 'oversize', limit });

/**
 * Reads a response body of at most `max` bytes (after content decoding, so a gzip bomb stops
 * too): refuses a larger `Content-Length` without reading, and stops (cancelling the body) as
 * soon as more than `max` bytes arrive. The error is `tooLarge()` when given.
 * @throws TerminalError `TERM_ERR_UPDATE_DOWNLOAD` (`details.reason: 'oversize'`) by default
 */
export async function readBounded(res: Response, max: number, what = 'response', tooLarge: () => Error = () => oversize(what, max)): Promise<Uint8Array> {
  const declared = res.headers.get('content-length');
  if (declared !== null && Number(declared) > max) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (res.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let got = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    got += value.byteLength;
    if (got > max) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
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
  const maxBytes = o.maxBytes ?? MAX_DOWNLOAD_BYTES;
  if (!Number.isSafeInteger(o.size) || o.size < 0 || o.size > maxBytes) {
    throw new TerminalError('TERM_ERR_UPDATE_DOWNLOAD', `announced size ${o.size} outside 0..${maxBytes}`, { reason: 'oversize', limit: maxBytes });
  }
  const part = `${o.dest}.part`;
  let firstResume = -1;
  let requests = 0;
  let lastErr: unknown;
  for (let attempt = 0; attempt < (o.attempts ?? 5); attempt++) {
    let have = await sizeOf(part);
    if (have > o.size) { await truncate(part, 0); have = 0; }
    if (firstResume < 0) firstResume = have;
    if (have === o.size) break;
    const abort = new AbortController();
    try {
      requests++;
      const res = await f(o.url, { signal: abort.signal, headers: { ...o.headers, ...(have > 0 ? { range: `bytes=${have}-`, 'if-range': `"${o.sha256}"` } : {}) } });
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
      const missing = o.size - have;
      const declared = res.headers.get('content-length');
      if (declared !== null && Number(declared) > missing) {
        abort.abort();
        throw oversize(`body of ${declared} bytes`, missing);
      }
      // Each chunk is written before the next is read, so an interrupted transfer keeps what arrived.
      const fh = await open(part, have > 0 ? 'a' : 'w', 0o600);
      let got = 0;
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          if (got + chunk.byteLength > missing) {
            abort.abort();
            throw oversize('body', missing);
          }
          got += chunk.byteLength;
          await fh.write(chunk);
        }
      } catch (e) {
        // A body past the announced size is not the package: nothing of it is kept.
        if (e instanceof TerminalError && e.details['reason'] === 'oversize') await truncate(part, 0);
        throw e;
      } finally {
        await fh.close();
      }
      if (await sizeOf(part) === o.size) break;
    } catch (err) {
      lastErr = err;
      if (err instanceof TerminalError && err.code === 'TERM_ERR_UPDATE_DOWNLOAD' && err.details.status !== undefined && Number(err.details.status) < 500) throw err;
      if (err instanceof TerminalError && err.details['reason'] === 'oversize') throw err;
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
