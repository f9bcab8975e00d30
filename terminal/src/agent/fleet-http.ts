/**
 * The terminal's HTTP calls to the fleet server (docs/fleet-protocol.md §7), authenticated with
 * `Basic base64(terminalId:password)`: the configuration pointer and documents (SHA-256 of the
 * received bytes checked against the pointer, then schema-validated) and hotlist deltas/snapshots.
 * Every body is read up to a limit per document kind ({@link FLEET_FETCH_LIMITS}); a larger one
 * is cut off and refused, so a compromised or broken server cannot exhaust the terminal's memory.
 */
import { createHash } from 'node:crypto';
import { validateTerminalConfig, type TerminalConfigDocument } from '@onecard/protocol/fleet';
import { isProtocolError } from '@onecard/protocol/errors';
import { TerminalError } from '../errors.ts';
import { readBounded } from '../updater/download.ts';

/** Largest body accepted per fetch, bytes (decoded). */
export interface FleetFetchLimits {
  readonly configPointer: number;
  readonly configDocument: number;
  /** A full snapshot of a 10-million-card hotlist is about 120 MB of JSON. */
  readonly hotlist: number;
}
export const FLEET_FETCH_LIMITS: FleetFetchLimits = { configPointer: 16 * 1024, configDocument: 1024 * 1024, hotlist: 256 * 1024 * 1024 };

export interface FleetHttpOptions {
  readonly serverUrl: string;
  readonly terminalId: string;
  readonly password: string;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
  readonly limits?: Partial<FleetFetchLimits>;
}

export type HotlistUpdate =
  | { readonly kind: 'delta'; readonly fromVersion: number; readonly version: number; readonly add: readonly string[]; readonly remove: readonly string[] }
  | { readonly kind: 'full'; readonly version: number; readonly cards: readonly string[] };

/** A configuration pointer `{version, sha256}`. */
export interface ConfigPointerValue { readonly version: number; readonly sha256: string }

export class FleetHttp {
  readonly #o: FleetHttpOptions;
  readonly #auth: string;
  constructor(o: FleetHttpOptions) {
    this.#o = o;
    this.#auth = `Basic ${Buffer.from(`${o.terminalId}:${o.password}`, 'utf8').toString('base64')}`;
  }

  async #get(path: string, kind: keyof FleetFetchLimits): Promise<{ status: number; bytes: Uint8Array }> {
    const f = this.#o.fetch ?? fetch;
    const max = this.#o.limits?.[kind] ?? FLEET_FETCH_LIMITS[kind];
    const tooLarge = (): TerminalError => new TerminalError('TERM_ERR_AGENT_FETCH', `${path}: body over ${max} bytes`, { path, reason: 'oversize', limit: max });
    try {
      const res = await f(`${this.#o.serverUrl}${path}`, { headers: { authorization: this.#auth, accept: 'application/json' }, signal: AbortSignal.timeout(this.#o.timeoutMs ?? 30_000) });
      return { status: res.status, bytes: await readBounded(res, max, path, tooLarge) };
    } catch (cause) {
      if (cause instanceof TerminalError) throw cause;
      throw new TerminalError('TERM_ERR_AGENT_FETCH', path, { path }, { cause });
    }
  }

  /** The current pointer, or `undefined` when nothing is assigned. @throws TerminalError `TERM_ERR_AGENT_FETCH` */
  async configPointer(): Promise<ConfigPointerValue | undefined> {
    const r = await this.#get('/api/v1/terminal/config', 'configPointer');
    if (r.status === 204) return undefined;
    if (r.status !== 200) throw new TerminalError('TERM_ERR_AGENT_FETCH', `config pointer: HTTP ${r.status}`, { status: r.status });
    const v = JSON.parse(Buffer.from(r.bytes).toString('utf8')) as { version?: unknown; sha256?: unknown };
    if (!Number.isSafeInteger(v.version) || typeof v.sha256 !== 'string') throw new TerminalError('TERM_ERR_AGENT_FETCH', 'config pointer body', {});
    return { version: v.version as number, sha256: v.sha256 };
  }

  /**
   * Fetches a configuration document, checks its SHA-256 and validates it.
   * @throws TerminalError `TERM_ERR_AGENT_FETCH`, `TERM_ERR_CONFIG_HASH`; ProtocolError
   *   `PROTO_ERR_FLEET_SCHEMA` (invalid document), `PROTO_ERR_FLEET_JSON`
   */
  async configDocument(pointer: ConfigPointerValue): Promise<TerminalConfigDocument> {
    const r = await this.#get(`/api/v1/terminal/config/${pointer.version}`, 'configDocument');
    if (r.status !== 200) throw new TerminalError('TERM_ERR_AGENT_FETCH', `config ${pointer.version}: HTTP ${r.status}`, { status: r.status });
    return configFromBytes(r.bytes, pointer);
  }

  /** Delta since `since` or a full snapshot. @throws TerminalError `TERM_ERR_AGENT_FETCH` */
  async hotlist(since: number): Promise<HotlistUpdate> {
    const r = await this.#get(`/api/v1/terminal/hotlist?since=${since}`, 'hotlist');
    if (r.status !== 200) throw new TerminalError('TERM_ERR_AGENT_FETCH', `hotlist: HTTP ${r.status}`, { status: r.status });
    const v = JSON.parse(Buffer.from(r.bytes).toString('utf8')) as Record<string, unknown>;
    const strs = (x: unknown): x is string[] => Array.isArray(x) && x.every((c) => typeof c === 'string');
    if (v['kind'] === 'delta' && Number.isSafeInteger(v['version']) && Number.isSafeInteger(v['fromVersion']) && strs(v['add']) && strs(v['remove'])) {
      return { kind: 'delta', fromVersion: v['fromVersion'] as number, version: v['version'] as number, add: v['add'], remove: v['remove'] };
    }
    if (v['kind'] === 'full' && Number.isSafeInteger(v['version']) && strs(v['cards'])) return { kind: 'full', version: v['version'] as number, cards: v['cards'] };
    throw new TerminalError('TERM_ERR_AGENT_FETCH', 'hotlist body', {});
  }
}

/**
 * A configuration document from its canonical bytes, fetched or inline in the pointer: the SHA-256
 * of exactly these bytes must be the pointer's, then the document is schema-validated.
 * @throws TerminalError `TERM_ERR_CONFIG_HASH`, `TERM_ERR_AGENT_FETCH` (not JSON); ProtocolError
 *   `PROTO_ERR_FLEET_SCHEMA` (invalid document)
 */
export function configFromBytes(bytes: Uint8Array, pointer: ConfigPointerValue): TerminalConfigDocument {
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== pointer.sha256) throw new TerminalError('TERM_ERR_CONFIG_HASH', `version ${pointer.version}`, { version: pointer.version });
  let value: unknown;
  try { value = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')); } catch (cause) { throw new TerminalError('TERM_ERR_AGENT_FETCH', 'config is not JSON', {}, { cause }); }
  return validateTerminalConfig(value);
}

/** `{code, message}` for a config rejection report. */
export function rejectionOf(e: unknown): { code: string; message: string } {
  if (e instanceof TerminalError || isProtocolError(e)) return { code: e.code, message: e.message.slice(0, 1024) };
  return { code: 'TERM_ERR_INVALID_ARGUMENT', message: 'apply failed' };
}
