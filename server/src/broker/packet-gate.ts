/**
 * A pre-parser that sits between a client's socket and the MQTT packet parser. aedes and
 * mqtt-packet buffer a packet whole before deciding anything about it, so a client that announces
 * a 256 MiB CONNECT and streams it makes the server hold 256 MiB. The gate reads only each fixed
 * header — the packet type and the remaining-length varint [MQTT-2.2.3] — and refuses a packet the
 * moment its announced length is over the limit for its type, before any of its body is buffered.
 * It also caps the bytes a connection may send before it is authenticated. It never stores or
 * copies data: `push` inspects a chunk and says whether the connection may go on.
 */

/** Per-type limits on the announced remaining length, and the pre-authentication byte budget. */
export interface PacketLimits {
  /** Largest CONNECT (client id, credentials, Last Will): a few KiB. */
  readonly maxConnectBytes: number;
  /** Largest PUBLISH: the largest fleet payload plus topic and packet id. */
  readonly maxPublishBytes: number;
  /** Largest packet of any other type (SUBSCRIBE, UNSUBSCRIBE, acknowledgements). */
  readonly maxOtherBytes: number;
  /** Bytes a connection may send before its CONNECT has been accepted. */
  readonly maxPreAuthBytes: number;
}

export type GateRefusal =
  | 'first-packet-not-connect'
  | 'second-connect'
  | 'connect-too-large'
  | 'publish-too-large'
  | 'packet-too-large'
  | 'malformed-length'
  | 'pre-auth-bytes';

export type GateVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: GateRefusal; readonly announced?: number };

const OK: GateVerdict = { ok: true };

/** MQTT control packet types by the high nibble of the first byte [MQTT-2.2.1]. */
const CONNECT = 1;
const PUBLISH = 3;

type State =
  | { readonly at: 'header' }
  | { readonly at: 'length'; readonly type: number; readonly value: number; readonly multiplier: number; readonly bytes: number }
  | { readonly at: 'body'; readonly type: number; readonly remaining: number };

/**
 * Follows the packet boundaries of one connection's inbound byte stream. After a refusal the
 * gate stays refused; the caller closes the connection.
 */
export class PacketGate {
  readonly #limits: PacketLimits;
  #state: State = { at: 'header' };
  #packets = 0;
  #partial = 0;
  #total = 0;
  #authenticated = false;
  #refused: GateVerdict | undefined;

  constructor(limits: PacketLimits) {
    this.#limits = limits;
  }

  /** The CONNECT was accepted: the pre-authentication budget no longer applies. */
  authenticated(): void {
    this.#authenticated = true;
  }

  /**
   * Bytes of the packet currently being received that have been let through (header included):
   * what the downstream parser holds while it waits for the rest of that packet.
   */
  get partialBytes(): number {
    return this.#partial;
  }

  /** Bytes let through since the connection opened. */
  get totalBytes(): number {
    return this.#total;
  }

  /** Inspects the next chunk of the inbound stream. */
  push(chunk: Uint8Array): GateVerdict {
    if (this.#refused !== undefined) return this.#refused;
    this.#total += chunk.length;
    let i = 0;
    while (i < chunk.length) {
      const s = this.#state;
      if (s.at === 'header') {
        const type = chunk[i]! >> 4;
        if (this.#packets === 0 && type !== CONNECT) return this.#refuse('first-packet-not-connect'); // [MQTT-3.1.0-1]
        if (this.#packets > 0 && type === CONNECT) return this.#refuse('second-connect'); // [MQTT-3.1.0-2]
        this.#packets++;
        this.#partial = 1;
        this.#state = { at: 'length', type, value: 0, multiplier: 1, bytes: 0 };
        i++;
      } else if (s.at === 'length') {
        const b = chunk[i]!;
        i++;
        this.#partial++;
        const value = s.value + (b & 0x7f) * s.multiplier;
        if ((b & 0x80) !== 0) {
          if (s.bytes + 1 >= 4) return this.#refuse('malformed-length'); // at most 4 length bytes [MQTT-2.2.3]
          this.#state = { at: 'length', type: s.type, value, multiplier: s.multiplier * 128, bytes: s.bytes + 1 };
          continue;
        }
        const max = s.type === CONNECT ? this.#limits.maxConnectBytes : s.type === PUBLISH ? this.#limits.maxPublishBytes : this.#limits.maxOtherBytes;
        if (value > max) return this.#refuse(s.type === CONNECT ? 'connect-too-large' : s.type === PUBLISH ? 'publish-too-large' : 'packet-too-large', value);
        if (value === 0) {
          this.#state = { at: 'header' };
          this.#partial = 0;
        } else {
          this.#state = { at: 'body', type: s.type, remaining: value };
        }
      } else {
        const take = Math.min(s.remaining, chunk.length - i);
        i += take;
        this.#partial += take;
        if (take === s.remaining) {
          this.#state = { at: 'header' };
          this.#partial = 0;
        } else {
          this.#state = { at: 'body', type: s.type, remaining: s.remaining - take };
        }
      }
    }
    // Checked after the headers of this chunk, so an oversize packet is named as such.
    if (!this.#authenticated && this.#total > this.#limits.maxPreAuthBytes) return this.#refuse('pre-auth-bytes');
    return OK;
  }

  #refuse(reason: GateRefusal, announced?: number): GateVerdict {
    this.#refused = announced === undefined ? { ok: false, reason } : { ok: false, reason, announced };
    return this.#refused;
  }
}
