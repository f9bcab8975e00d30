/**
 * Codec benchmarks: command/response APDU encode and decode, BER-TLV decode (full tree) and
 * encode on a realistic ~200-byte FCI with nested templates, side by side with the npm packages
 * `ber-tlv` and `node-tlv` decoding the same bytes in the same run (ratio = OneCard ÷ baseline,
 * goal ≥ 3×), SIMPLE-TLV records, and CCID message/serial-frame rows when the ccid module exists.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fromHex } from '@onecard/protocol/src/bytes.ts';
import { decodeCommandApdu, decodeResponseApdu, encodeCommandApdu } from '@onecard/protocol/src/iso7816/apdu.ts';
import type { TlvNode } from '@onecard/protocol/src/iso7816/ber-tlv.ts';
import { decodeBerTlv, encodeBerTlv, findTlv } from '@onecard/protocol/src/iso7816/ber-tlv.ts';
import { decodeSimpleTlvList } from '@onecard/protocol/src/iso7816/simple-tlv.ts';
import type { BenchRow } from './lib/measure.ts';
import { measure } from './lib/measure.ts';

interface BerTlvItem { readonly tag: string; readonly items?: readonly BerTlvItem[] | null }
interface BerTlvModule { readonly TlvFactory: { parse(b: Buffer): BerTlvItem[]; serialize(items: BerTlvItem[]): Buffer } }
interface NodeTlv { getTag(): string; getChild(): readonly NodeTlv[] | null | undefined }
interface NodeTlvModule { parse(b: Buffer): NodeTlv }

const require = createRequire(import.meta.url);

/** An EMV-style application FCI (synthetic values) with three levels of templates, ~200 bytes. */
function sampleFci(): Uint8Array {
  const v = (hex: string): Uint8Array => fromHex(hex);
  const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
  return encodeBerTlv({
    tag: 0x6f,
    children: [
      { tag: 0x84, value: v('A0000003330101') },
      {
        tag: 0xa5,
        children: [
          { tag: 0x50, value: ascii('PBOC DEBIT') },
          { tag: 0x87, value: v('01') },
          { tag: 0x9f38, value: v('9F66049F02069F03069F1A0295055F2A029A039C019F3704') },
          { tag: 0x5f2d, value: ascii('zhen') },
          { tag: 0x9f11, value: v('01') },
          { tag: 0x9f12, value: ascii('SOCIAL SECURITY') },
          {
            tag: 0xbf0c,
            children: [
              { tag: 0x9f4d, value: v('0B0A') },
              { tag: 0xdf4d, value: v('0C0A') },
              { tag: 0x61, children: [{ tag: 0x4f, value: v('A0000003330101') }, { tag: 0x50, value: ascii('DEBIT') }, { tag: 0x87, value: v('01') }] },
              { tag: 0x61, children: [{ tag: 0x4f, value: v('A0000003330102') }, { tag: 0x50, value: ascii('CREDIT') }, { tag: 0x87, value: v('02') }] },
              { tag: 0x61, children: [{ tag: 0x4f, value: v('7378312E73682EC9E7BBE1B1A3D5CF') }, { tag: 0x50, value: ascii('SSSE') }, { tag: 0x87, value: v('03') }] },
              { tag: 0x9f0c, value: v('860103') },
              { tag: 0xdf61, value: v('0123456789ABCDEF0123456789ABCDEF') },
            ],
          },
        ],
      },
    ],
  });
}

function countOurs(n: TlvNode): number {
  let c = 1;
  if (n.children !== undefined) for (const k of n.children) c += countOurs(k);
  return c;
}
function countBer(items: readonly BerTlvItem[]): number {
  let c = 0;
  for (const i of items) c += 1 + (Array.isArray(i.items) ? countBer(i.items) : 0);
  return c;
}
function countNodeTlv(n: NodeTlv): number {
  let c = 1;
  const kids = n.getChild();
  if (Array.isArray(kids)) for (const k of kids as readonly NodeTlv[]) c += countNodeTlv(k);
  return c;
}

async function ccidRows(): Promise<BenchRow[]> {
  const path = fileURLToPath(new URL('../protocol/src/ccid/index.ts', import.meta.url));
  if (!existsSync(path)) return [{ name: 'CCID message encode/decode', note: 'skipped: protocol/src/ccid/index.ts missing' }];
  const ccid = (await import('@onecard/protocol/src/ccid/index.ts')) as unknown as {
    encodeCcidMessage?: (m: unknown) => Uint8Array;
    decodeCcidMessage?: (b: Uint8Array) => unknown;
    encodeSerialFrame?: (b: Uint8Array) => Uint8Array;
  };
  const { encodeCcidMessage, decodeCcidMessage, encodeSerialFrame } = ccid;
  if (typeof encodeCcidMessage !== 'function' || typeof decodeCcidMessage !== 'function') {
    return [{ name: 'CCID message encode/decode', note: 'skipped: ccid module lacks encodeCcidMessage/decodeCcidMessage' }];
  }
  const apdu = encodeCommandApdu({ cla: 0, ins: 0xb2, p1: 1, p2: 0x2c, le: 0x0b });
  const xfr = { type: 'PC_to_RDR_XfrBlock', bSlot: 0, bSeq: 7, bBWI: 0, wLevelParameter: 0, abData: apdu };
  const wire = encodeCcidMessage(xfr);
  const rows: BenchRow[] = [
    { name: 'CCID XfrBlock encode (5-byte APDU)', opsPerSec: measure(() => encodeCcidMessage(xfr)) },
    { name: 'CCID XfrBlock decode', opsPerSec: measure(() => decodeCcidMessage(wire)) },
  ];
  if (typeof encodeSerialFrame === 'function') {
    rows.push({ name: 'GemPC serial frame encode', opsPerSec: measure(() => encodeSerialFrame(wire)) });
  }
  return rows;
}

export default async function codecs(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];

  // --- APDUs
  const select = { cla: 0, ins: 0xa4, p1: 4, p2: 0, data: fromHex('7378312E73682EC9E7BBE1B1A3D5CF'), le: 256 };
  const selectBytes = encodeCommandApdu(select);
  const ext = { cla: 0, ins: 0xd6, p1: 0, p2: 0, data: new Uint8Array(1000), le: 65536 };
  const extBytes = encodeCommandApdu(ext);
  const resp = fromHex('0102030405060708090A0B0C0D0E0F10 9000');
  rows.push(
    { name: 'APDU encode, case 4S (SELECT SSSE)', opsPerSec: measure(() => encodeCommandApdu(select)) },
    { name: 'APDU decode, case 4S', opsPerSec: measure(() => decodeCommandApdu(selectBytes)) },
    { name: 'APDU encode, case 4E (1000 bytes)', opsPerSec: measure(() => encodeCommandApdu(ext)) },
    { name: 'APDU decode, case 4E (1000 bytes)', opsPerSec: measure(() => decodeCommandApdu(extBytes)) },
    { name: 'response APDU decode (16 + SW)', opsPerSec: measure(() => decodeResponseApdu(resp)) },
  );

  // --- BER-TLV against ber-tlv and node-tlv on the same input
  const fci = sampleFci();
  const fciBuf = Buffer.from(fci);
  const berTlv = require('ber-tlv') as BerTlvModule;
  const nodeTlv = require('node-tlv') as NodeTlvModule;
  // the three decoders must agree on the tree before they are compared
  const ours = decodeBerTlv(fci);
  const n1 = countOurs(ours), n2 = countBer(berTlv.TlvFactory.parse(fciBuf)), n3 = countNodeTlv(nodeTlv.parse(fciBuf));
  if (n1 !== n2 || n1 !== n3) throw new Error(`decoders disagree on node count: OneCard ${n1}, ber-tlv ${n2}, node-tlv ${n3}`);
  if (findTlv(ours, '6F/A5/BF0C/9F0C') === undefined) throw new Error('sample FCI lookup failed');

  const oursOps = measure(() => countOurs(decodeBerTlv(fci)));
  const berOps = measure(() => countBer(berTlv.TlvFactory.parse(fciBuf)));
  const nodeOps = measure(() => countNodeTlv(nodeTlv.parse(fciBuf)));
  const label = `BER-TLV decode + walk, FCI ${fci.length} B, ${n1} nodes`;
  rows.push(
    { name: `${label}: OneCard`, opsPerSec: oursOps },
    { name: `${label}: ber-tlv`, opsPerSec: berOps, baseline: 'ber-tlv', ratio: oursOps / berOps, note: 'ratio = OneCard ÷ ber-tlv' },
    { name: `${label}: node-tlv`, opsPerSec: nodeOps, baseline: 'node-tlv', ratio: oursOps / nodeOps, note: 'ratio = OneCard ÷ node-tlv' },
  );
  const berItems = berTlv.TlvFactory.parse(fciBuf);
  const encOurs = measure(() => encodeBerTlv(ours));
  const encBer = measure(() => berTlv.TlvFactory.serialize(berItems));
  rows.push(
    { name: `BER-TLV encode tree, FCI ${fci.length} B: OneCard`, opsPerSec: encOurs },
    { name: `BER-TLV encode tree, FCI ${fci.length} B: ber-tlv`, opsPerSec: encBer, baseline: 'ber-tlv', ratio: encOurs / encBer },
    { name: 'BER-TLV path lookup 6F/A5/BF0C/9F0C', opsPerSec: measure(() => findTlv(ours, [0x6f, 0xa5, 0xbf0c, 0x9f0c])) },
  );

  // --- SIMPLE-TLV: a whole EF05 read (synthetic values)
  const ef05 = fromHex('0110' + '11'.repeat(16) + '020133' + '0304322E3030' + '040C' + '22'.repeat(12) + '050420200101' + '060420300101' + '0709' + '41'.repeat(9));
  rows.push({ name: `SIMPLE-TLV decode, EF05 (${ef05.length} B, 7 items)`, opsPerSec: measure(() => decodeSimpleTlvList(ef05)) });

  rows.push(...(await ccidRows()));
  return rows;
}
