/**
 * Reader-side view of the GemPC Twin serial framing (reader-link.md §8.2): an incremental
 * decoder for host command frames `03 06 ‖ CCID message ‖ LRC` and encoders for the reader's
 * answers (ACK frames, the NAK frame, `50 xx` slot-change notices). Pure functions over
 * `Uint8Array`; the simulator core owns the buffer.
 */

export const SYNC = 0x03;
export const CTRL_ACK = 0x06;
export const CTRL_NAK = 0x15;
export const NOTIFY_SLOT_CHANGE = 0x50;
/** Link buffer of the serial driver: (271 + 2 + 1) · 2 bytes [reader-link §8.2]. */
export const SERIAL_BUFFER = 548;
export const CCID_HEADER = 10;

/** XOR of all bytes. */
export function lrc(bytes: Uint8Array): number {
  let x = 0;
  for (const b of bytes) x ^= b;
  return x;
}

/** `03 06 ‖ message ‖ LRC`, LRC over SYNC and CTRL included [reader-link §8.2]. */
export function encodeAckFrame(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(message.length + 3);
  out[0] = SYNC;
  out[1] = CTRL_ACK;
  out.set(message, 2);
  out[out.length - 1] = lrc(out.subarray(0, out.length - 1));
  return out;
}

/** The reader's NAK frame `03 15 16` [reader-link §8.2]. */
export const NAK_FRAME: Uint8Array = Uint8Array.of(SYNC, CTRL_NAK, SYNC ^ CTRL_NAK);

/** One decoding step over the reader's receive buffer. */
export type HostFrameStep =
  | { readonly kind: 'need-more' }
  /** A complete frame: `raw` is the whole frame (for the echo), `message` the CCID message. */
  | { readonly kind: 'frame'; readonly raw: Uint8Array; readonly message: Uint8Array; readonly consumed: number }
  /** A frame with a wrong LRC or an impossible size; the reader answers NAK. */
  | { readonly kind: 'bad-frame'; readonly reason: 'lrc' | 'size'; readonly consumed: number }
  /** A byte that cannot start a frame; skipped. */
  | { readonly kind: 'garbage'; readonly byte: number; readonly consumed: 1 };

/**
 * Looks at the start of `buf` for one host frame. Never throws: garbage is reported and
 * skipped one byte at a time, so the simulated reader resynchronises like a real one.
 */
export function decodeHostFrame(buf: Uint8Array): HostFrameStep {
  if (buf.length === 0) return { kind: 'need-more' };
  const b0 = buf[0] as number;
  if (b0 !== SYNC) return { kind: 'garbage', byte: b0, consumed: 1 };
  if (buf.length < 2) return { kind: 'need-more' };
  const ctrl = buf[1] as number;
  if (ctrl !== CTRL_ACK) return { kind: 'garbage', byte: b0, consumed: 1 };
  if (buf.length < 2 + 5) return { kind: 'need-more' };
  // dwLength, little-endian [CCID-SPEC; reader-link §7.2]
  const dwLength = ((buf[3] as number) | ((buf[4] as number) << 8) | ((buf[5] as number) << 16) | ((buf[6] as number) << 24)) >>> 0;
  const total = 2 + CCID_HEADER + dwLength + 1;
  if (total > SERIAL_BUFFER - 3) return { kind: 'bad-frame', reason: 'size', consumed: Math.min(buf.length, 7) };
  if (buf.length < total) return { kind: 'need-more' };
  const raw = buf.slice(0, total);
  if (lrc(raw) !== 0) return { kind: 'bad-frame', reason: 'lrc', consumed: total };
  return { kind: 'frame', raw, message: raw.slice(2, total - 1), consumed: total };
}

/** The `50 xx` notice: 2 bits per slot, bit 0 present, bit 1 changed [CCID-SPEC; reader-link §7.1, §8.2]. */
export function encodeSlotChange(present: readonly boolean[], changed: readonly boolean[]): Uint8Array {
  let state = 0;
  present.forEach((p, i) => {
    if (p) state |= 1 << (2 * i);
    if (changed[i] === true) state |= 2 << (2 * i);
  });
  return Uint8Array.of(NOTIFY_SLOT_CHANGE, state & 0xff);
}
