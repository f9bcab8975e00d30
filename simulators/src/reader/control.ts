/**
 * Control interface of a running simulated reader: card movements and status from stdin lines
 * (`insert FILE [SLOT]`, `remove [SLOT]`, `swap FILE [SLOT]`, `cut INS WHEN [SLOT]`, `status`)
 * and from a small HTTP API bound to 127.0.0.1 (POST /insert {file, slot?}, POST /remove
 * {slot?}, POST /swap {file, slot?}, POST /cut {ins, when, slot?}, GET /status). The target does
 * the actual work (loading card files). `cut` arms a one-shot removal of the card at the next
 * command with that INS byte (hex, e.g. `54` = DEBIT FOR PURCHASE): `before` it reaches the card,
 * `during` (executed, no answer) or `after` (answered, then gone) — a person pulling the card away
 * or a contactless tap leaving the field mid-transaction.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CUT_POINTS, type CutPoint, type ReaderCore } from './core.ts';

export interface ControlTarget {
  insert(file: string, slot: number): Promise<void> | void;
  remove(slot: number): Promise<void> | void;
  swap(file: string, slot: number): Promise<void> | void;
  /** Arms a cut (see {@link ReaderCore.cut}); targets without it answer `cut` with an error. */
  cut?(slot: number, ins: number, when: CutPoint): Promise<void> | void;
  status(): unknown;
}

/** A cut request: INS as a number or two hex digits, and the cut point. */
interface CutArgs {
  readonly ins: unknown;
  readonly when: unknown;
}

const parseIns = (v: unknown): number | undefined => {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xff) return v;
  if (typeof v === 'string' && /^[0-9A-Fa-f]{2}$/.test(v)) return Number.parseInt(v, 16);
  return undefined;
};

export type ControlResult = { readonly ok: true; readonly status?: unknown } | { readonly ok: false; readonly error: string; readonly code?: string };

async function run(target: ControlTarget, verb: string, file: string | undefined, slot: number, cut?: CutArgs): Promise<ControlResult> {
  try {
    switch (verb) {
      case 'cut': {
        if (target.cut === undefined) return { ok: false, error: 'this reader cannot cut cards' };
        const ins = parseIns(cut?.ins);
        if (ins === undefined) return { ok: false, error: 'cut needs ins: one byte (number or two hex digits)', code: 'SIM_ERR_READER_CUT' };
        const when = cut?.when;
        if (typeof when !== 'string' || !(CUT_POINTS as readonly string[]).includes(when)) return { ok: false, error: `cut needs when: ${CUT_POINTS.join(', ')}`, code: 'SIM_ERR_READER_CUT' };
        await target.cut(slot, ins, when as CutPoint);
        return { ok: true, status: target.status() };
      }
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
  const slotWord = verb === 'cut' ? words[3] : hasFile ? words[2] : words[1];
  const slot = slotWord === undefined ? 0 : Number(slotWord);
  if (!Number.isInteger(slot) || slot < 0) return { ok: false, error: `bad slot ${slotWord ?? ''}` };
  return run(target, verb, file, slot, verb === 'cut' ? { ins: words[1], when: words[2] } : undefined);
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
        let body: { file?: unknown; slot?: unknown; ins?: unknown; when?: unknown } = {};
        try {
          const text = Buffer.concat(chunks).toString('utf8');
          if (text.length > 0) body = JSON.parse(text) as typeof body;
        } catch {
          res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: false, error: 'body is not JSON' }));
          return;
        }
        const verb = (req.url ?? '/').replace(/^\//, '').split('?')[0] ?? '';
        const allowed = req.method === 'GET' ? verb === 'status' : ['insert', 'remove', 'swap', 'cut'].includes(verb);
        if (!allowed) {
          res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: false, error: 'not found' }));
          return;
        }
        const slot = typeof body.slot === 'number' ? body.slot : 0;
        const file = typeof body.file === 'string' ? body.file : undefined;
        const r = await run(target, verb, file, slot, verb === 'cut' ? { ins: body.ins, when: body.when } : undefined);
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

/** The `cut` of a control target backed by a reader core (what `onecard-sim reader` and the demo use). */
export function coreCut(core: ReaderCore): NonNullable<ControlTarget['cut']> {
  return (slot, ins, when) => core.cut(slot, ins, when);
}
