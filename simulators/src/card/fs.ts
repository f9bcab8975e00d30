/**
 * The card file system model [7816-4 §5.3; ssc-card §1, §5]: DFs (with optional DF name / AID),
 * transparent EFs, linear variable-record EFs addressed by number or by record identifier (the
 * first byte, i.e. the tag of the simple TLV), and cyclic EFs whose record 1 is the newest.
 * READ RECORD and READ BINARY are answered here; SELECT resolution lives here too.
 */
import { type Command, SW, exactLe, respond } from './apdu.ts';

/** Who may read a file. `extAuth` = an external authentication with that key in this DF. */
export type ReadRule = { readonly kind: 'free' } | { readonly kind: 'extAuth'; readonly keyId: number } | { readonly kind: 'never' };

export const FREE: ReadRule = { kind: 'free' };

export interface Df {
  readonly kind: 'df';
  readonly fid: number;
  readonly name: Uint8Array | undefined;
  readonly children: Node[];
  parent: Df | undefined;
  /** Builds the FCI answered to SELECT (without SW). */
  readonly fci: () => Uint8Array;
  /** The application behind this DF, for dispatching application commands. */
  readonly app: string;
}

export interface BinaryEf {
  readonly kind: 'binary';
  readonly fid: number;
  readonly sfi: number;
  readonly read: ReadRule;
  data: Uint8Array;
}

export interface RecordEf {
  readonly kind: 'record';
  readonly fid: number;
  readonly sfi: number;
  readonly read: ReadRule;
  /** For cyclic files `records[0]` is the newest (record number 1). */
  readonly records: Uint8Array[];
  readonly cyclic: boolean;
  readonly maxRecords: number;
}

export type Ef = BinaryEf | RecordEf;
export type Node = Df | Ef;

export function df(fid: number, name: Uint8Array | undefined, app: string, fci: () => Uint8Array, children: Node[] = []): Df {
  const d: Df = { kind: 'df', fid, name, children, parent: undefined, fci, app };
  for (const c of children) if (c.kind === 'df') c.parent = d;
  return d;
}

export function addChild(parent: Df, child: Node): void {
  parent.children.push(child);
  if (child.kind === 'df') child.parent = parent;
}

export function allDfs(root: Df): Df[] {
  const out: Df[] = [root];
  for (const c of root.children) if (c.kind === 'df') out.push(...allDfs(c));
  return out;
}

/** The EF with this SFI in `dir`, else in its ancestors (lenient, as several COSes are). */
export function efBySfi(dir: Df, sfi: number): Ef | undefined {
  for (let d: Df | undefined = dir; d !== undefined; d = d.parent) {
    for (const c of d.children) if (c.kind !== 'df' && c.sfi === sfi) return c;
  }
  return undefined;
}

/** Access decision for a read, supplied by the card's security state. */
export type CanRead = (ef: Ef) => boolean;

/** Where a READ RECORD left the record pointer, kept by the card per current EF. */
export interface RecordPointer {
  ef: RecordEf | undefined;
  index: number;
}

/**
 * READ RECORD [7816-4 §7.3.3; ssc-card §5.2]. P2 = SFI << 3 | mode: `100` record P1, `101` P1..last,
 * `110` last..P1, `000`/`001`/`010`/`011` first/last/next/previous record whose identifier is P1.
 */
export function readRecord(cmd: Command, current: Ef | undefined, dir: Df, canRead: CanRead, ptr: RecordPointer): { response: Uint8Array; ef: Ef | undefined } {
  const sfi = cmd.p2 >> 3;
  const mode = cmd.p2 & 7;
  let ef: Ef | undefined = current;
  if (sfi === 31) return { response: respond(SW.WRONG_P1P2), ef: current };
  if (sfi !== 0) {
    ef = efBySfi(dir, sfi);
    if (ef === undefined) return { response: respond(SW.FILE_NOT_FOUND), ef: current };
  } else if (ef === undefined) return { response: respond(SW.NO_CURRENT_EF), ef: current };
  if (ef.kind !== 'record') return { response: respond(SW.INCOMPATIBLE_FILE), ef };
  if (!canRead(ef)) return { response: respond(SW.SECURITY), ef };
  const recs = ef.records;
  if (ptr.ef !== ef) {
    ptr.ef = ef;
    ptr.index = -1;
  }
  const answer = (i: number): Uint8Array => {
    ptr.index = i;
    return exactLe(cmd, recs[i]!);
  };
  if (mode === 4) {
    const i = cmd.p1 === 0 ? ptr.index : cmd.p1 - 1;
    if (i < 0 || i >= recs.length) return { response: respond(SW.RECORD_NOT_FOUND), ef };
    return { response: answer(i), ef };
  }
  if (mode === 5 || mode === 6) {
    const from = cmd.p1 === 0 ? Math.max(ptr.index, 0) : cmd.p1 - 1;
    if (from >= recs.length) return { response: respond(SW.RECORD_NOT_FOUND), ef };
    const picked = mode === 5 ? recs.slice(from) : recs.slice(from).reverse();
    const all = new Uint8Array(picked.reduce((n, r) => n + r.length, 0));
    let o = 0;
    for (const r of picked) {
      all.set(r, o);
      o += r.length;
    }
    if (cmd.le === 0 || (cmd.le !== null && cmd.le < all.length)) return { response: respond(0x6c00 | (all.length & 0xff)), ef };
    return { response: respond(SW.OK, all), ef };
  }
  if (mode > 3) return { response: respond(SW.WRONG_P1P2), ef };
  const ids = recs.map((r) => r[0]);
  let i = -1;
  if (mode === 0) i = ids.indexOf(cmd.p1);
  else if (mode === 1) i = ids.lastIndexOf(cmd.p1);
  else if (mode === 2) {
    for (let j = ptr.index + 1; j < recs.length; j++) if (ids[j] === cmd.p1) { i = j; break; }
  } else {
    for (let j = (ptr.index < 0 ? recs.length : ptr.index) - 1; j >= 0; j--) if (ids[j] === cmd.p1) { i = j; break; }
  }
  if (i < 0) return { response: respond(SW.RECORD_NOT_FOUND), ef };
  return { response: answer(i), ef };
}

/** READ BINARY [7816-4 §7.2.3; ssc-card §5.3]: P1 b8 = 1 → SFI in b5..b1, P2 = offset. */
export function readBinary(cmd: Command, current: Ef | undefined, dir: Df, canRead: CanRead): { response: Uint8Array; ef: Ef | undefined } {
  let ef = current;
  let offset: number;
  if (cmd.p1 & 0x80) {
    if (cmd.p1 & 0x60) return { response: respond(SW.WRONG_P1P2), ef: current };
    ef = efBySfi(dir, cmd.p1 & 0x1f);
    if (ef === undefined) return { response: respond(SW.FILE_NOT_FOUND), ef: current };
    offset = cmd.p2;
  } else {
    if (ef === undefined) return { response: respond(SW.NO_CURRENT_EF), ef: current };
    offset = (cmd.p1 << 8) | cmd.p2;
  }
  if (ef.kind !== 'binary') return { response: respond(SW.INCOMPATIBLE_FILE), ef };
  if (!canRead(ef)) return { response: respond(SW.SECURITY), ef };
  if (offset > ef.data.length) return { response: respond(SW.OFFSET_BEYOND), ef };
  const avail = ef.data.length - offset;
  const want = cmd.le === null || cmd.le === 0 ? 256 : cmd.le;
  if (avail === 0) return { response: respond(SW.OFFSET_BEYOND), ef };
  if (cmd.le !== null && cmd.le !== 0 && want > avail) return { response: respond(0x6c00 | avail), ef };
  return { response: respond(SW.OK, ef.data.slice(offset, offset + Math.min(want, avail))), ef };
}

/** Result of resolving a SELECT: the new current DF and EF, or a status word. */
export type SelectResult = { readonly ok: true; readonly df: Df; readonly ef: Ef | undefined } | { readonly ok: false; readonly sw: number };

/**
 * SELECT resolution [7816-4 §7.1.1]: P1 `00` by FID (MF, child, EF in current DF, or parent),
 * `02` EF under the current DF, `04` by DF name (exact match anywhere in the tree).
 */
export function resolveSelect(cmd: Command, mf: Df, cur: Df): SelectResult {
  const d = cmd.data;
  if (cmd.p1 === 0x04) {
    if (d.length === 0) return { ok: true, df: mf, ef: undefined };
    for (const x of allDfs(mf)) if (x.name !== undefined && sameBytes(x.name, d)) return { ok: true, df: x, ef: undefined };
    return { ok: false, sw: SW.FILE_NOT_FOUND };
  }
  if (cmd.p1 === 0x00 || cmd.p1 === 0x02 || cmd.p1 === 0x01) {
    if (d.length === 0 && cmd.p1 === 0x00) return { ok: true, df: mf, ef: undefined };
    if (d.length !== 2) return { ok: false, sw: SW.WRONG_DATA };
    const fid = (d[0]! << 8) | d[1]!;
    if (cmd.p1 === 0x00 && fid === 0x3f00) return { ok: true, df: mf, ef: undefined };
    for (const c of cur.children) {
      if (c.fid !== fid) continue;
      if (c.kind === 'df') return cmd.p1 === 0x02 ? { ok: false, sw: SW.FILE_NOT_FOUND } : { ok: true, df: c, ef: undefined };
      if (cmd.p1 === 0x01) continue;
      return { ok: true, df: cur, ef: c };
    }
    if (cmd.p1 === 0x00 && cur.parent !== undefined && cur.parent.fid === fid) return { ok: true, df: cur.parent, ef: undefined };
    return { ok: false, sw: SW.FILE_NOT_FOUND };
  }
  return { ok: false, sw: SW.WRONG_P1P2 };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
