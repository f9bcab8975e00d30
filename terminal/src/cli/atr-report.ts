/**
 * Presentation of a decoded ATR for field technicians: a byte-by-byte readable report and a flat
 * JSON object (one per ATR) for scripts. Pure functions over `Atr` from `@onecard/protocol/iso7816`;
 * the `atr` subcommand only chooses which one to print.
 */
import { toHex } from '@onecard/protocol/bytes';
import {
  COMPACT_TLV_TAG_NAMES,
  DI_TABLE,
  FI_TABLE,
  FMAX_MHZ_TABLE,
  decodeSscHistoricalBytes,
  lifeCycleStatusName,
  looksLikeSscAtr,
  type Atr,
  type AtrGroup,
  type HistoricalBytes,
} from '@onecard/protocol/iso7816';

/** One line of `--json` output. Byte values are upper-case hex strings. */
export interface AtrJson {
  readonly atr: string;
  readonly valid: boolean;
  /** Finding codes, errors and warnings, in order. */
  readonly findings: readonly string[];
  readonly findingDetails: readonly { code: string; severity: string; message: string; field?: string; offset?: number }[];
  readonly complete: boolean;
  readonly convention: string;
  readonly protocols: readonly number[];
  readonly defaultProtocol: number;
  readonly mode: 'specific' | 'negotiable';
  readonly specificMode?: { protocol: number; canChangeMode: boolean; implicitParameters: boolean };
  readonly ta1: string;
  readonly fi: number | null;
  readonly di: number | null;
  readonly fmaxMHz: number | null;
  readonly extraGuardTime: { n: number; minimum: boolean };
  readonly wi?: number;
  readonly t1?: { ifsc: number; bwi: number; cwi: number; edc: string };
  readonly global?: { clockStop?: string; classes?: readonly string[]; spu?: number };
  readonly historicalBytes: string;
  readonly historical?: unknown;
  readonly tck: { present: boolean; valid: boolean; status: string; required: boolean; value?: string; expected?: string };
  readonly ssc?: { chipSupplier: string; cosData: string; cardManufacturer: string; region: string; regionIsBcd: boolean; serial: string };
}

const h2 = (b: number): string => b.toString(16).toUpperCase().padStart(2, '0');
const spaced = (bytes: Uint8Array): string => [...bytes].map(h2).join(' ');

/** The JSON projection of a decoded ATR. */
export function atrToJson(atr: Atr): AtrJson {
  const out: { -readonly [K in keyof AtrJson]: AtrJson[K] } = {
    atr: toHex(atr.bytes),
    valid: atr.valid,
    findings: atr.findings.map((f) => f.code),
    findingDetails: atr.findings.map((f) => ({ ...f })),
    complete: atr.complete,
    convention: atr.convention,
    protocols: atr.protocols,
    defaultProtocol: atr.defaultProtocol,
    mode: atr.specificMode === undefined ? 'negotiable' : 'specific',
    ta1: h2(atr.ta1),
    fi: atr.fi,
    di: atr.di,
    fmaxMHz: atr.fmaxMHz,
    extraGuardTime: atr.extraGuardTime,
    historicalBytes: toHex(atr.historicalBytes),
    tck: {
      present: atr.tck.present,
      valid: atr.tck.valid,
      status: atr.tck.status,
      required: atr.tck.required,
      ...(atr.tck.value === undefined ? {} : { value: h2(atr.tck.value) }),
      ...(atr.tck.expected === undefined ? {} : { expected: h2(atr.tck.expected) }),
    },
  };
  if (atr.specificMode !== undefined) out.specificMode = { ...atr.specificMode };
  if (atr.t0 !== undefined) out.wi = atr.t0.wi;
  if (atr.t1 !== undefined) out.t1 = { ifsc: atr.t1.ifsc, bwi: atr.t1.bwi, cwi: atr.t1.cwi, edc: atr.t1.edc };
  if (atr.global !== undefined) out.global = { ...atr.global };
  if (atr.historical !== undefined) out.historical = JSON.parse(JSON.stringify(atr.historical, (_k, v: unknown) => (v instanceof Uint8Array ? toHex(v) : v)));
  if (looksLikeSscAtr(atr)) {
    const s = decodeSscHistoricalBytes(atr.historicalBytes);
    out.ssc = {
      chipSupplier: toHex(s.chipSupplier),
      cosData: toHex(s.cosData),
      cardManufacturer: toHex(s.cardManufacturer),
      region: s.region,
      regionIsBcd: s.regionIsBcd,
      serial: toHex(s.serial),
    };
  }
  return out;
}

/** The readable multi-line report of one ATR (ends with a newline). */
export function atrToText(atr: Atr): string {
  const lines: string[] = [];
  const row = (name: string, value: number | undefined, text: string): void => {
    lines.push(`  ${name.padEnd(4)} ${value === undefined ? '  ' : h2(value)}  ${text}`);
  };
  lines.push(`ATR: ${spaced(atr.bytes) || '(empty)'}`);
  const ts = atr.bytes[0];
  if (ts !== undefined) {
    row('TS', ts, atr.convention === 'direct' ? 'direct convention' : atr.convention === 'inverse' ? 'inverse convention' : 'INVALID initial character');
  }
  const t0 = atr.bytes[1];
  if (t0 !== undefined) row('T0', t0, `${presence(t0 >> 4, 1)}; K = ${t0 & 15} historical byte(s)`);
  const groups = atr.fields.groups;
  if (t0 !== undefined) {
    const first = firstIndexes(groups);
    groups.forEach((g, j) => {
      const i = j + 1;
      const governing = j === 0 ? undefined : groups[j - 1]!.t;
      if (g.ta !== undefined) row(`TA${i}`, g.ta, describeTa(i, g.ta, governing, first.ta1 === i, first.ta15 === i));
      if (g.tb !== undefined) row(`TB${i}`, g.tb, describeTb(i, g.tb, governing, first.tb1 === i, first.tb15 === i));
      if (g.tc !== undefined) row(`TC${i}`, g.tc, describeTc(i, g.tc, governing, first.tc1 === i));
      if (g.t !== undefined) {
        const y = j + 1 < groups.length ? tdHighNibble(groups[j + 1]!) : 0;
        row(`TD${i}`, (y << 4) | g.t, `T = ${g.t}${protocolName(g.t)}; ${y === 0 ? 'last TD' : presence(y, i + 1)}`);
      }
    });
  }
  if (atr.historicalLength > 0 || atr.historicalBytes.length > 0) {
    lines.push(`  historical bytes (${atr.historicalBytes.length}): ${spaced(atr.historicalBytes)}  "${printable(atr.historicalBytes)}"`);
    if (atr.historical !== undefined) lines.push(...describeHistorical(atr.historical).map((l) => `    ${l}`));
  }
  if (atr.tck.present) {
    const text =
      atr.tck.status === 'ok'
        ? 'TCK correct'
        : atr.tck.status === 'bad'
          ? `TCK WRONG, expected ${h2(atr.tck.expected ?? 0)}`
          : `byte after the historical bytes of a T=0-only ATR (not a TCK)`;
    row('TCK', atr.tck.value, text);
  } else if (atr.tck.required) {
    lines.push('  TCK       MISSING (required because a protocol other than T=0 is offered)');
  }
  lines.push(atr.complete ? 'Summary:' : 'Summary (incomplete ATR: bytes not read count as absent):');
  lines.push(`  protocols: ${atr.protocols.map((p) => `T=${p}`).join(', ')} (default T=${atr.defaultProtocol})`);
  lines.push(
    atr.specificMode === undefined
      ? '  mode: negotiable (PPS possible)'
      : `  mode: specific, T=${atr.specificMode.protocol}, ${atr.specificMode.canChangeMode ? 'can' : 'cannot'} change mode, ${atr.specificMode.implicitParameters ? 'implicit parameters' : 'parameters from TA1'} (no PPS)`,
  );
  lines.push(`  Fi = ${atr.fi ?? 'RFU'}, Di = ${atr.di ?? 'RFU'}, f max = ${atr.fmaxMHz ?? 'RFU'} MHz${atr.fi !== null && atr.di !== null ? `, ${round(atr.fi / atr.di)} cycles/etu, ${Math.round((4e6 * atr.di) / atr.fi)} bps at 4 MHz` : ''}`);
  lines.push(`  extra guard time: ${atr.extraGuardTime.minimum ? 'N = 255, minimum guard time (12 etu T=0, 11 etu T=1)' : `${atr.extraGuardTime.n} etu`}`);
  if (atr.t0 !== undefined) lines.push(`  T=0: WI = ${atr.t0.wi}`);
  if (atr.t1 !== undefined) lines.push(`  T=1: IFSC = ${atr.t1.ifsc}, BWI = ${atr.t1.bwi}, CWI = ${atr.t1.cwi}, EDC = ${atr.t1.edc.toUpperCase()}`);
  if (atr.global?.clockStop !== undefined) lines.push(`  clock stop: ${atr.global.clockStop}; classes: ${atr.global.classes?.join(' ') || 'none'}`);
  if (looksLikeSscAtr(atr)) {
    const s = decodeSscHistoricalBytes(atr.historicalBytes);
    lines.push('  social security card layout (if this is an SSC):');
    lines.push(`    chip supplier ${toHex(s.chipSupplier)}, COS data ${toHex(s.cosData)}, card manufacturer ${toHex(s.cardManufacturer)}`);
    lines.push(`    region ${s.region}${s.regionIsBcd ? '' : ' (not BCD)'}, serial ${toHex(s.serial)}`);
    lines.push('    (this proprietary layout is not ISO/IEC 7816-4 COMPACT-TLV, so a historical-bytes warning is expected)');
  }
  if (atr.findings.length === 0) lines.push('Findings: none');
  else {
    lines.push('Findings:');
    for (const f of atr.findings) lines.push(`  ${f.severity === 'error' ? 'ERROR  ' : 'warning'} ${f.code}${f.field === undefined ? '' : ` [${f.field}]`}: ${f.message}`);
  }
  lines.push(`Result: ${atr.valid ? 'valid' : 'INVALID'} ATR`);
  return lines.join('\n') + '\n';
}

function presence(y: number, i: number): string {
  const names = (['A', 'B', 'C', 'D'] as const).filter((_, b) => (y & (1 << b)) !== 0).map((n) => `T${n}${i}`);
  return names.length === 0 ? 'no interface bytes follow' : `${names.join(' ')} follow`;
}

function tdHighNibble(g: AtrGroup): number {
  return (g.ta === undefined ? 0 : 1) | (g.tb === undefined ? 0 : 2) | (g.tc === undefined ? 0 : 4) | (g.t === undefined ? 0 : 8);
}

function firstIndexes(groups: readonly AtrGroup[]): { ta1?: number; tb1?: number; tc1?: number; ta15?: number; tb15?: number } {
  const out: { ta1?: number; tb1?: number; tc1?: number; ta15?: number; tb15?: number } = {};
  for (let j = 2; j < groups.length; j++) {
    const t = groups[j - 1]!.t;
    const g = groups[j]!;
    if (t === 1) {
      if (g.ta !== undefined) out.ta1 ??= j + 1;
      if (g.tb !== undefined) out.tb1 ??= j + 1;
      if (g.tc !== undefined) out.tc1 ??= j + 1;
    }
    if (t === 15) {
      if (g.ta !== undefined) out.ta15 ??= j + 1;
      if (g.tb !== undefined) out.tb15 ??= j + 1;
    }
  }
  return out;
}

function protocolName(t: number): string {
  if (t === 0) return ' (half-duplex character)';
  if (t === 1) return ' (half-duplex block)';
  if (t === 15) return ' (global interface bytes follow)';
  if (t === 14) return ' (not standardised by ISO)';
  return ' (RFU)';
}

function describeTa(i: number, v: number, governing: number | undefined, firstT1: boolean, firstT15: boolean): string {
  if (i === 1) return `Fi = ${FI_TABLE[v >> 4] ?? 'RFU'}, f max = ${FMAX_MHZ_TABLE[v >> 4] ?? 'RFU'} MHz, Di = ${DI_TABLE[v & 15] ?? 'RFU'}`;
  if (i === 2) return `specific mode: T=${v & 15}, ${v & 0x80 ? 'cannot' : 'can'} change mode, ${v & 0x10 ? 'implicit parameters' : 'parameters from TA1'}`;
  if (governing === 1) return firstT1 ? `T=1 IFSC = ${v}` : 'T=1 byte (ignored: not the first TA after T=1)';
  if (governing === 15) {
    if (!firstT15) return 'T=15 byte (ignored: not the first)';
    const xi = ['not supported', 'state L', 'state H', 'no preference'][v >> 6];
    return `clock stop: ${xi}; class UI ${h2(v & 0x3f)}`;
  }
  return `specific to T=${governing ?? '?'}`;
}

function describeTb(i: number, v: number, governing: number | undefined, firstT1: boolean, firstT15: boolean): string {
  if (i === 1 || i === 2) return `programming voltage/current (deprecated, ignored)${v === 0 ? ', VPP not connected' : ''}`;
  if (governing === 1) return firstT1 ? `T=1 BWI = ${v >> 4}, CWI = ${v & 15}` : 'T=1 byte (ignored: not the first TB after T=1)';
  if (governing === 15) return firstT15 ? `SPU ${h2(v)}` : 'T=15 byte (ignored: not the first)';
  return `specific to T=${governing ?? '?'}`;
}

function describeTc(i: number, v: number, governing: number | undefined, firstT1: boolean): string {
  if (i === 1) return v === 255 ? 'N = 255: minimum guard time' : `extra guard time N = ${v} etu`;
  if (i === 2) return `T=0 waiting time integer WI = ${v}`;
  if (governing === 1) return firstT1 ? `T=1 error detection: ${v & 1 ? 'CRC' : 'LRC'}` : 'T=1 byte (ignored: not the first TC after T=1)';
  return `specific to T=${governing ?? '?'}`;
}

function describeHistorical(h: HistoricalBytes): string[] {
  switch (h.kind) {
    case 'empty':
      return [];
    case 'dir-reference':
      return [`category 10: DIR data reference ${spaced(h.reference)}`];
    case 'proprietary':
      return [`category ${h2(h.category)}: proprietary format`];
    case 'compact-tlv': {
      const out = [`category ${h2(h.category)}: COMPACT-TLV${h.category === 0 ? ' + status indicator' : ''}`];
      for (const o of h.objects) out.push(`  tag ${o.tag.toString(16).toUpperCase()} ${COMPACT_TLV_TAG_NAMES[o.tag] ?? '(unknown)'}: ${spaced(o.value) || '(empty)'}`);
      const c = h.capabilities;
      if (c?.commandChaining !== undefined) {
        out.push(`  command chaining ${c.commandChaining ? 'yes' : 'no'}, extended Lc/Le ${c.extendedLength ? 'yes' : 'no'}, logical channels ${c.maxLogicalChannels === 8 ? '8 or more' : c.maxLogicalChannels}`);
      }
      if (h.status !== undefined) {
        const parts: string[] = [];
        if (h.status.lcs !== undefined) parts.push(`life cycle ${h2(h.status.lcs)} (${lifeCycleStatusName(h.status.lcs)})`);
        if (h.status.sw !== undefined) parts.push(`SW ${h.status.sw.toString(16).toUpperCase().padStart(4, '0')}`);
        out.push(`  status: ${parts.join(', ')}`);
      }
      return out;
    }
  }
}

function printable(bytes: Uint8Array): string {
  return [...bytes].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
}

function round(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(3);
}
