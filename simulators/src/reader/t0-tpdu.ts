/**
 * The reader's T=0 work at TPDU exchange level (reader-link.md §3): the host sends one T=0
 * command TPDU per XfrBlock; the simulated reader turns it into an APDU call on the card and
 * answers what a T=0 card would put on the line after the procedure bytes: case 4 and
 * case 3 commands that produce data answer `61xx` and keep the data for GET RESPONSE; a case 2
 * with the wrong Le answers `6Cxx`. `61xx`/`6Cxx` from the card itself pass through untouched.
 */
export interface T0Exchange {
  /** The APDU given to the card, or undefined when the reader answered alone. */
  readonly apdu: Uint8Array | undefined;
  readonly response: Uint8Array;
}

/** Per-slot T=0 state: data held back for GET RESPONSE. */
export class T0Slot {
  #pending: { data: Uint8Array; sw: Uint8Array } | undefined;

  reset(): void {
    this.#pending = undefined;
  }

  /**
   * Runs one TPDU. Returns undefined for a TPDU of impossible length (the reader then fails
   * the XfrBlock).
   */
  exchange(transmit: (apdu: Uint8Array) => Uint8Array, tpdu: Uint8Array): T0Exchange | undefined {
    if (tpdu.length < 5) return undefined;
    const ins = tpdu[1] as number;
    const p3 = tpdu[4] as number;
    const body = tpdu.length - 5;
    // [7816-3 §10.3.2] INS 6x / 9x are invalid on T=0
    if ((ins & 0xf0) === 0x60 || (ins & 0xf0) === 0x90) return { apdu: undefined, response: Uint8Array.of(0x6d, 0x00) };
    if (body === 0) {
      const le = p3 === 0 ? 256 : p3;
      const pend = this.#pending;
      // GET RESPONSE served from the reader's buffer [7816-4 §7.6.1; reader-link §6.2]
      if (ins === 0xc0 && (tpdu[0] as number) !== 0xff && pend !== undefined) {
        if (le > pend.data.length) return { apdu: undefined, response: Uint8Array.of(0x6c, pend.data.length & 0xff) };
        const out = pend.data.slice(0, le);
        const rest = pend.data.slice(le);
        if (rest.length > 0) {
          this.#pending = { data: rest, sw: pend.sw };
          return { apdu: undefined, response: Uint8Array.from([...out, 0x61, rest.length & 0xff]) };
        }
        this.#pending = undefined;
        return { apdu: undefined, response: Uint8Array.from([...out, ...pend.sw]) };
      }
      this.#pending = undefined;
      const apdu = tpdu.slice();
      const r = transmit(apdu);
      const { data, sw } = split(r);
      if (data.length === 0 || sw[0] === 0x61 || sw[0] === 0x6c) return { apdu, response: r };
      // [7816-3 §10.3.3] case 2: Le must match the available length, else 6C La
      if (data.length !== le) return { apdu, response: Uint8Array.of(0x6c, data.length & 0xff) };
      return { apdu, response: r };
    }
    if (body !== p3 && body !== p3 + 1) return undefined;
    this.#pending = undefined;
    const apdu = tpdu.slice();
    const r = transmit(apdu);
    const { data, sw } = split(r);
    if (data.length === 0) return { apdu, response: r };
    // [7816-3 §10.3.3; reader-link §3.1] case 4 on T=0: 61 La, data read by GET RESPONSE
    this.#pending = { data, sw };
    return { apdu, response: Uint8Array.of(0x61, data.length & 0xff) };
  }
}

function split(r: Uint8Array): { data: Uint8Array; sw: Uint8Array } {
  if (r.length < 2) return { data: new Uint8Array(0), sw: Uint8Array.of(0x6f, 0x00) };
  return { data: r.slice(0, r.length - 2), sw: r.slice(r.length - 2) };
}
