/** Test helpers: a fake card, host command frames, and a splitter for the reader's output. */
import type { ReaderCard } from '../../src/reader/card-port.ts';
import { encodeAckFrame, lrc } from '../../src/reader/serial-frames.ts';

export const FAKE_ATR = Uint8Array.of(0x3b, 0x03, 0x41, 0x42, 0x43);

/** A tiny card: SELECT → 9000, READ BINARY → 4 bytes, INS 88 → 8 bytes, INS EE → echoes data, else 6D00. */
export function fakeCard(name = 'A'): ReaderCard & { log: Uint8Array[] } {
  const log: Uint8Array[] = [];
  return {
    log,
    reset: () => FAKE_ATR.slice(),
    transmit(apdu: Uint8Array): Uint8Array {
      log.push(apdu);
      const ins = apdu[1];
      if (ins === 0xa4) return Uint8Array.of(0x90, 0x00);
      if (ins === 0xb0) return Uint8Array.from([...new TextEncoder().encode(name.padEnd(4, '-').slice(0, 4)), 0x90, 0x00]);
      if (ins === 0x88) return Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 0x90, 0x00]);
      if (ins === 0xee) return Uint8Array.from([...apdu.subarray(5, 5 + (apdu[4] ?? 0)), 0x90, 0x00]);
      return Uint8Array.of(0x6d, 0x00);
    },
  };
}

export function ccid(type: number, slot: number, seq: number, b7: number, b8: number, b9: number, data: readonly number[] | Uint8Array = []): Uint8Array {
  const d = Uint8Array.from(data);
  const m = new Uint8Array(10 + d.length);
  m[0] = type;
  new DataView(m.buffer).setUint32(1, d.length, true);
  m[5] = slot;
  m[6] = seq;
  m[7] = b7;
  m[8] = b8;
  m[9] = b9;
  m.set(d, 10);
  return m;
}

export const frame = (msg: Uint8Array): Uint8Array => encodeAckFrame(msg);

export type Item =
  | { kind: 'ack'; msg: Uint8Array; lrcOk: boolean; raw: Uint8Array }
  | { kind: 'nak' }
  | { kind: 'notify'; state: number }
  | { kind: 'time'; byte: number };

/** Splits reader output the way the host's receive parser does [reader-link §8.3]. */
export function split(bytes: Uint8Array): Item[] {
  const out: Item[] = [];
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    if (b === 0x50) {
      out.push({ kind: 'notify', state: bytes[i + 1] as number });
      i += 2;
    } else if (b >= 0x80) {
      out.push({ kind: 'time', byte: b });
      i += 1;
    } else if (b === 0x03 && bytes[i + 1] === 0x15) {
      if (bytes[i + 2] !== 0x16) throw new Error('bad NAK');
      out.push({ kind: 'nak' });
      i += 3;
    } else if (b === 0x03 && bytes[i + 1] === 0x06) {
      const len = new DataView(bytes.buffer, bytes.byteOffset).getUint32(i + 3, true);
      const raw = bytes.slice(i, i + 2 + 10 + len + 1);
      if (raw.length !== 13 + len) throw new Error('truncated frame');
      out.push({ kind: 'ack', msg: raw.slice(2, raw.length - 1), lrcOk: lrc(raw) === 0, raw });
      i += raw.length;
    } else {
      throw new Error(`unexpected byte ${b.toString(16)} at ${i}`);
    }
  }
  return out;
}

export function concatWrites(ws: ReadonlyArray<{ bytes: Uint8Array }>): Uint8Array {
  const total = ws.reduce((n, w) => n + w.bytes.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const w of ws) {
    out.set(w.bytes, o);
    o += w.bytes.length;
  }
  return out;
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();
export const fromHex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
