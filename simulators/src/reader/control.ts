/**
 * Control interface of a running simulated reader: card movements and status from stdin lines
 * (`insert FILE [SLOT]`, `remove [SLOT]`, `swap FILE [SLOT]`, `status`) and from a small HTTP
 * API bound to 127.0.0.1 (POST /insert {file, slot?}, POST /remove {slot?}, POST /swap
 * {file, slot?}, GET /status). The target does the actual work (loading card files).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ControlTarget {
  insert(file: string, slot: number): Promise<void> | void;
  remove(slot: number): Promise<void> | void;
  swap(file: string, slot: number): Promise<void> | void;
  status(): unknown;
}

export type ControlResult = { readonly ok: true; readonly status?: unknown } | { readonly ok: false; readonly error: string; readonly code?: string };

async function run(target: ControlTarget, verb: string, file: string | undefined, slot: number): Promise<ControlResult> {
  try {
    switch (verb) {
      case 'insert':
      case 'swap':
        if (file === undefined || file.length === 0) return { ok: false, error: `${verb} needs a card file` };
        await (verb === 'insert' ? target.insert(file, slot) : target.swap(file, slot));
        return { ok: true, status: target.status() };
      case 'remove':
        await target.remove(slot);
        return { ok: true, status: target.status() };
      case 'status':
        return { ok: true, status: target.status() };
      default:
        return { ok: false, error: `unknown command ${verb}` };
    }
  } catch (e) {
    const err = e as { message?: string; code?: string };
    return err.code === undefined ? { ok: false, error: String(err.message ?? e) } : { ok: false, error: String(err.message ?? e), code: err.code };
  }
}

/** Runs one stdin command line. Unknown verbs and bad arguments give `{ok:false}`. */
export async function runControlLine(target: ControlTarget, line: string): Promise<ControlResult> {
  const words = line.trim().split(/\s+/).filter((w) => w.length > 0);
  const verb = words[0];
  if (verb === undefined) return { ok: false, error: 'empty command' };
  const hasFile = verb === 'insert' || verb === 'swap';
  const file = hasFile ? words[1] : undefined;
  const slotWord = hasFile ? words[2] : words[1];
  const slot = slotWord === undefined ? 0 : Number(slotWord);
  if (!Number.isInteger(slot) || slot < 0) return { ok: false, error: `bad slot ${slotWord ?? ''}` };
  return run(target, verb, file, slot);
}

export interface ControlServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the HTTP control API on 127.0.0.1:`port` (0 = any free port). */
export function startControlServer(target: ControlTarget, port: number): Promise<ControlServer> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        let body: { file?: unknown; slot?: unknown } = {};
        try {
          const text = Buffer.concat(chunks).toString('utf8');
          if (text.length > 0) body = JSON.parse(text) as typeof body;
        } catch {
          res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: false, error: 'body is not JSON' }));
          return;
        }
        const verb = (req.url ?? '/').replace(/^\//, '').split('?')[0] ?? '';
        const allowed = req.method === 'GET' ? verb === 'status' : ['insert', 'remove', 'swap'].includes(verb);
        if (!allowed) {
          res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: false, error: 'not found' }));
          return;
        }
        const slot = typeof body.slot === 'number' ? body.slot : 0;
        const file = typeof body.file === 'string' ? body.file : undefined;
        const r = await run(target, verb, file, slot);
        res.writeHead(r.ok ? 200 : 400, { 'content-type': 'application/json' }).end(JSON.stringify(r));
      })();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}
