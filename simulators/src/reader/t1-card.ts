/**
 * Card side of the T=1 block protocol (reader-link.md §4), as the simulated reader needs it at
 * TPDU exchange level: the host sends one block per XfrBlock and the "card" answers one block.
 * Handles I-block chaining both ways, R-block acknowledgements and retransmission, S(IFS),
 * S(RESYNCH), S(ABORT) and card-initiated S(WTX). LRC only (no ATR of ours asks for CRC).
 */

export interface T1CardResult {
  /** The block the card answers. */
  readonly block: Uint8Array;
  /** A complete command APDU was handed to the card during this step. */
  readonly apdu?: Uint8Array;
  readonly response?: Uint8Array;
}

function lrcOf(bytes: Uint8Array): number {
  let x = 0;
  for (const b of bytes) x ^= b;
  return x;
}

/** Builds NAD ‖ PCB ‖ LEN ‖ INF ‖ LRC [7816-3 §11.3.1]. */
export function t1Block(nad: number, pcb: number, inf: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(inf.length + 4);
  out[0] = nad;
  out[1] = pcb;
  out[2] = inf.length;
  out.set(inf, 3);
  out[out.length - 1] = lrcOf(out.subarray(0, out.length - 1));
  return out;
}

/** Card-role T=1 state for one slot; reset on every power-on. */
export class T1Card {
  #nsCard = 0; // N(S) of the card's next new I-block
  #nrExpected = 0; // N(S) expected in the host's next I-block
  #ifsd = 32; // host receive size [7816-3 §11.4.2]
  #rx: number[] = [];
  #txChunks: Uint8Array[] = [];
  #last: Uint8Array | undefined;
  #wtxPending = false;

  reset(): void {
    this.#nsCard = 0;
    this.#nrExpected = 0;
    this.#ifsd = 32;
    this.#rx = [];
    this.#txChunks = [];
    this.#last = undefined;
    this.#wtxPending = false;
  }

  /**
   * One host block in, one card block out. `transmit` is called once a whole command APDU has
   * arrived; `wantWtx` asks the card to send S(WTX request) before that answer.
   */
  step(block: Uint8Array, transmit: (apdu: Uint8Array) => Uint8Array, wantWtx = false): T1CardResult {
    const nad = ((block[0] ?? 0) & 0x0f) << 4 | ((block[0] ?? 0) >> 4); // [7816-3 §11.3.2.1] swap DAD/SAD
    const send = (b: Uint8Array): T1CardResult => {
      this.#last = b;
      return { block: b };
    };
    const rBlock = (err: number): T1CardResult => send(t1Block(nad, 0x80 | (this.#nrExpected << 4) | err));
    // [7816-3 §11.6.3 rule 7.1] EDC / length errors → R(EDC error)
    if (block.length < 4 || block[2] === 0xff || (block[2] as number) + 4 !== block.length || lrcOf(block) !== 0) return rBlock(1);
    const pcb = block[1] as number;
    const inf = block.subarray(3, block.length - 1);
    if ((pcb & 0x80) === 0) {
      const ns = (pcb >> 6) & 1;
      const more = (pcb & 0x20) !== 0;
      if (ns !== this.#nrExpected) return rBlock(2); // [7816-3 §11.6.3 rule 7.4.2] wrong N(S)
      this.#nrExpected ^= 1;
      this.#rx.push(...inf);
      if (more) return rBlock(0); // [7816-3 §11.6.2.3] acknowledge a chained block
      const apdu = Uint8Array.from(this.#rx);
      this.#rx = [];
      const response = transmit(apdu);
      this.#txChunks = [];
      for (let i = 0; i < response.length; i += this.#ifsd) this.#txChunks.push(response.slice(i, i + this.#ifsd));
      if (this.#txChunks.length === 0) this.#txChunks.push(new Uint8Array(0));
      if (wantWtx) {
        this.#wtxPending = true;
        return { ...send(t1Block(nad, 0xc3, Uint8Array.of(0x01))), apdu, response }; // S(WTX request, 1)
      }
      return { ...this.#sendChunk(nad), apdu, response };
    }
    if ((pcb & 0xc0) === 0x80) {
      const nr = (pcb >> 4) & 1;
      // [7816-3 §11.6.2.3] R(N(R) = our next N(S)) while chaining: send the next chunk
      if (this.#txChunks.length > 0 && nr === this.#nsCard && (pcb & 0x0f) === 0) return this.#sendChunk(nad);
      // [7816-3 §11.6.3 rule 7.2 / 7.4] otherwise retransmit the last block
      if (this.#last !== undefined) return send(this.#last);
      return rBlock(2);
    }
    // S-blocks [7816-3 §11.3.2.2]
    switch (pcb) {
      case 0xc1: {
        const n = inf[0] ?? 0;
        if (inf.length === 1 && n !== 0 && n !== 0xff) this.#ifsd = n;
        return send(t1Block(nad, 0xe1, inf.slice()));
      }
      case 0xc0:
        this.reset();
        return send(t1Block(nad, 0xe0));
      case 0xc2:
        this.#rx = [];
        this.#txChunks = [];
        return send(t1Block(nad, 0xe2));
      case 0xe3:
        if (this.#wtxPending) {
          this.#wtxPending = false;
          return this.#sendChunk(nad);
        }
        return rBlock(2);
      default:
        return rBlock(2);
    }
  }

  #sendChunk(nad: number): T1CardResult {
    const chunk = this.#txChunks.shift() ?? new Uint8Array(0);
    const more = this.#txChunks.length > 0;
    const b = t1Block(nad, (this.#nsCard << 6) | (more ? 0x20 : 0), chunk);
    this.#nsCard ^= 1;
    this.#last = b;
    return { block: b };
  }
}
