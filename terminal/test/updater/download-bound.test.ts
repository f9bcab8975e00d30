/**
 * [issue 12 Medium] Every terminal download is bounded by what was announced: a package body past
 * its announced size, a lying Content-Length, a resumed range that runs long, and oversize fleet
 * documents (config pointer, config document, hotlist) are cut off and refused with a coded error.
 */
import t, { type Test } from 'tap';
import { createServer, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadWithResume, readBounded } from '../../src/updater/download.ts';
import { FleetHttp } from '../../src/agent/fleet-http.ts';

type Handler = (req: { url: string; headers: Record<string, string | string[] | undefined> }, res: ServerResponse) => void;

async function serve(t: Test, handler: Handler): Promise<{ url: string; sent: () => number }> {
  let sent = 0;
  const server = createServer((req, res) => {
    const write = res.write.bind(res);
    res.write = ((chunk: Buffer, ...rest: never[]) => { sent += chunk.length; return write(chunk, ...rest); }) as typeof res.write;
    handler({ url: req.url ?? '/', headers: req.headers }, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, sent: () => sent };
}

/** Streams `total` bytes in 64 KiB chunks as long as the client reads. */
function flood(res: ServerResponse, total: number): void {
  const chunk = Buffer.alloc(64 * 1024, 0x41);
  let left = total;
  const pump = (): void => {
    while (left > 0) {
      left -= chunk.length;
      if (!res.write(chunk)) { res.once('drain', pump); return; }
    }
    res.end();
  };
  res.on('close', () => { left = 0; });
  pump();
}

const MiB = 1024 * 1024;

t.test('a package announced as 1,000 bytes cannot write 200 MiB', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-bound-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const srv = await serve(t, (_req, res) => { res.writeHead(200, { 'content-type': 'application/octet-stream' }); flood(res, 200 * MiB); });
  const dest = join(dir, 'pkg.ocpkg');
  await t.rejects(downloadWithResume({ url: `${srv.url}/pkg`, dest, size: 1000, sha256: 'a'.repeat(64), attempts: 3 }), { code: 'TERM_ERR_UPDATE_DOWNLOAD', details: { reason: 'oversize' } });
  const part = `${dest}.part`;
  t.ok(!existsSync(part) || statSync(part).size === 0, 'nothing of the oversize body kept');
  t.notOk(existsSync(dest));
  t.ok(srv.sent() < 32 * MiB, `transfer cut off early (${(srv.sent() / MiB).toFixed(1)} MiB sent by the server)`);
});

t.test('a Content-Length above the announced size is refused before writing; a long 206 is cut', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-bound-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const body = Buffer.alloc(5000, 0x42);
  let requests = 0;
  const srv = await serve(t, (req, res) => {
    requests++;
    if (req.headers['range'] !== undefined) {
      // Claims the right range but sends far more than was missing.
      res.writeHead(206, { 'content-range': `bytes 500-999/1000` });
      flood(res, 50 * MiB);
      return;
    }
    res.writeHead(200, { 'content-length': String(body.length) });
    res.end(body);
  });
  const dest = join(dir, 'pkg.ocpkg');
  await t.rejects(downloadWithResume({ url: `${srv.url}/pkg`, dest, size: 1000, sha256: 'b'.repeat(64) }), { code: 'TERM_ERR_UPDATE_DOWNLOAD', details: { reason: 'oversize' } });
  t.equal(requests, 1, 'not retried: a server that sends more than announced is not asked again');
  t.notOk(existsSync(`${dest}.part`) && statSync(`${dest}.part`).size > 0);
  writeFileSync(`${dest}.part`, Buffer.alloc(500, 0x43));
  await t.rejects(downloadWithResume({ url: `${srv.url}/pkg`, dest, size: 1000, sha256: 'b'.repeat(64) }), { code: 'TERM_ERR_UPDATE_DOWNLOAD', details: { reason: 'oversize' } });
  t.equal(statSync(`${dest}.part`).size, 0, 'the resumed part is discarded');
  await t.rejects(downloadWithResume({ url: `${srv.url}/pkg`, dest, size: 4 * 1024 * MiB, sha256: 'b'.repeat(64) }), { code: 'TERM_ERR_UPDATE_DOWNLOAD' }, 'an announced size beyond any package is refused');
});

t.test('a good package still downloads and resumes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-bound-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const body = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251));
  const sha256 = createHash('sha256').update(body).digest('hex');
  const srv = await serve(t, (req, res) => {
    const m = /^bytes=(\d+)-$/.exec(String(req.headers['range'] ?? ''));
    if (m !== null) {
      const from = Number(m[1]);
      res.writeHead(206, { 'content-range': `bytes ${from}-${body.length - 1}/${body.length}`, 'content-length': String(body.length - from) });
      res.end(body.subarray(from));
      return;
    }
    res.writeHead(200, { 'content-length': String(body.length) });
    res.end(body);
  });
  const dest = join(dir, 'pkg.ocpkg');
  writeFileSync(`${dest}.part`, body.subarray(0, 1200));
  const r = await downloadWithResume({ url: `${srv.url}/pkg`, dest, size: body.length, sha256 });
  t.equal(r.resumedFrom, 1200);
  t.equal(statSync(dest).size, body.length);
});

t.test('fleet documents and signatures have size limits too (gzip included)', async (t) => {
  const hot = JSON.stringify({ kind: 'full', version: 3, cards: Array.from({ length: 2000 }, (_, i) => `A${String(i).padStart(8, '0')}`) });
  const srv = await serve(t, (req, res) => {
    if (req.url === '/api/v1/terminal/config') { res.writeHead(200, { 'content-type': 'application/json' }); flood(res, 64 * MiB); return; }
    if (req.url.startsWith('/api/v1/terminal/config/')) { res.writeHead(200, { 'content-length': String(8 * MiB) }); flood(res, 8 * MiB); return; }
    if (req.url.startsWith('/api/v1/terminal/hotlist')) { res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }); res.end(gzipSync(hot)); return; }
    res.writeHead(404).end();
  });
  const http = new FleetHttp({ serverUrl: srv.url, terminalId: 't1', password: 'p', limits: { hotlist: 10_000 } });
  await t.rejects(http.configPointer(), { code: 'TERM_ERR_AGENT_FETCH', details: { reason: 'oversize', limit: 16 * 1024 } }, 'endless config pointer cut at 16 KiB');
  await t.rejects(http.configDocument({ version: 2, sha256: 'c'.repeat(64) }), { code: 'TERM_ERR_AGENT_FETCH', details: { reason: 'oversize' } }, 'config document over 1 MiB refused on Content-Length');
  await t.rejects(http.hotlist(0), { code: 'TERM_ERR_AGENT_FETCH', details: { reason: 'oversize', limit: 10_000 } }, 'limit applies to the decoded (gunzipped) body');
  const roomy = new FleetHttp({ serverUrl: srv.url, terminalId: 't1', password: 'p' });
  t.match(await roomy.hotlist(0), { kind: 'full', version: 3 }, 'default hotlist limit fits a real list');
  t.ok(srv.sent() < 48 * MiB, 'the endless body was not read to its end');
  const small = new Response('x'.repeat(100));
  await t.rejects(readBounded(small, 99, 'signature'), { code: 'TERM_ERR_UPDATE_DOWNLOAD', details: { reason: 'oversize' } });
  t.equal((await readBounded(new Response('abc'), 3)).length, 3);
});
