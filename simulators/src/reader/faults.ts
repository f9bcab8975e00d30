/**
 * Fault-injection plan of the simulated serial reader: parses `--faults` specifications such as
 * `lrc@3,nak@5,drop@7,delay@2:200,timeext@4,wtx@1,remove-before@6,remove-during@6,unplug@9`.
 *
 * Counting: link faults (`lrc`, `nak`, `drop`, `delay`, `timeext`, `timereq`, `unplug`) name the
 * N-th host command frame received by the reader (1-based, every CCID command counts, probes
 * and presence polls included). Card faults (`wtx`, `remove-before`, `remove-during`,
 * `remove-after`) name the N-th APDU delivered to a card (1-based, all slots).
 */
import { SimulatorError } from '../errors.ts';

export const LINK_FAULTS = ['lrc', 'nak', 'drop', 'delay', 'timeext', 'timereq', 'unplug'] as const;
export const APDU_FAULTS = ['wtx', 'remove-before', 'remove-during', 'remove-after'] as const;
export type LinkFaultKind = (typeof LINK_FAULTS)[number];
export type ApduFaultKind = (typeof APDU_FAULTS)[number];

export interface Fault {
  readonly kind: LinkFaultKind | ApduFaultKind;
  readonly at: number;
  /** Milliseconds for `delay`. */
  readonly ms?: number;
}

/**
 * Parses a comma-separated fault list. An empty string gives no faults.
 * @throws SimulatorError SIM_ERR_READER_FAULT_SPEC on an unknown kind, a missing or non-positive
 * index, or `delay` without a duration.
 */
export function parseFaults(spec: string): Fault[] {
  const out: Fault[] = [];
  for (const part of spec.split(',').map((s) => s.trim()).filter((s) => s.length > 0)) {
    const m = /^([a-z-]+)@(\d+)(?::(\d+))?$/.exec(part);
    if (m === null) throw new SimulatorError('SIM_ERR_READER_FAULT_SPEC', part, { item: part });
    const kind = m[1] as string;
    const at = Number(m[2]);
    if (!(LINK_FAULTS as readonly string[]).includes(kind) && !(APDU_FAULTS as readonly string[]).includes(kind)) {
      throw new SimulatorError('SIM_ERR_READER_FAULT_SPEC', `unknown fault kind ${kind}`, { item: part });
    }
    if (at < 1) throw new SimulatorError('SIM_ERR_READER_FAULT_SPEC', `index must be >= 1 in ${part}`, { item: part });
    if (kind === 'delay') {
      if (m[3] === undefined) throw new SimulatorError('SIM_ERR_READER_FAULT_SPEC', `delay needs :MS in ${part}`, { item: part });
      out.push({ kind, at, ms: Number(m[3]) });
    } else {
      if (m[3] !== undefined) throw new SimulatorError('SIM_ERR_READER_FAULT_SPEC', `only delay takes :MS in ${part}`, { item: part });
      out.push({ kind: kind as Fault['kind'], at });
    }
  }
  return out;
}
