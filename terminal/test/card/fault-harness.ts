/**
 * Fault-matrix harness: the simulated reader core behind an in-memory link (fragmented delivery),
 * over a real pty, or behind the simulated HID device, driven through the terminal's reader
 * driver and reader channel without polling, so that the simulator's command and APDU counters
 * are deterministic.
 */
import { createReaderCore, type Fault, type ReaderCard, type ReaderModelName, type ReaderStep } from '@onecard/simulators';
import { TerminalError } from '../../src/errors.ts';
import { createMemoryLink } from '../../src/link/memory.ts';
import type { ReaderTransport } from '../../src/link/transport.ts';
import { createHidTransport } from '../../src/link/hid.ts';
import { createSerialTransport } from '../../src/link/serial.ts';
import { openCcidReader, type CcidReader } from '../../src/card/ccid-reader.ts';
import { createReaderChannel, powerUpSession } from '../../src/card/reader-channel.ts';
import { systemClock } from '../../src/card/clock.ts';
import { hidSim, readSsc, serialSim } from './helpers.ts';

export const TIMEOUTS = { default: 150, firmwareProbe: 150, powerUp: 300, cardMax: 300 } as const;

export type Outcome = { ok: true; value: unknown; commands: number; apdus: number } | { ok: false; code: string; commands: number; apdus: number };

/** Runs the SSC read script on a fresh reader; never rejects: returns the value or the error code. */
async function script(transport: ReaderTransport, link: 'serial' | 'hid', model: ReaderModelName): Promise<{ ok: true; value: unknown } | { ok: false; code: string; error: unknown }> {
  let reader: CcidReader | undefined;
  try {
    reader = await openCcidReader({ transport, link, model, clock: systemClock, timeouts: TIMEOUTS });
    let movements = 0;
    reader.onNotice((bits) => {
      if ((bits & 2) !== 0) movements++;
    });
    const session = await powerUpSession({ reader, slot: 0, generation: 0 });
    const ch = createReaderChannel({
      reader, slot: 0, session, cardMaxMs: TIMEOUTS.cardMax,
      check: () => (movements > 0 ? new TerminalError('TERM_ERR_CARD_REMOVED', 'moved', { slot: 0 }) : null),
    });
    return { ok: true, value: await readSsc(ch) };
  } catch (e) {
    return { ok: false, code: e instanceof TerminalError ? e.code : `UNCODED:${String(e)}`, error: e };
  } finally {
    if (transport.isOpen) await transport.close();
  }
}

/** The reader core behind an in-memory link. */
export async function runOnMemory(model: ReaderModelName, c: ReaderCard, faults: Fault[]): Promise<Outcome> {
  const core = createReaderCore({ model, slots: [c], faults });
  const link = createMemoryLink('fault', { maxChunk: 5, seed: faults.length * 7 + 1 });
  await link.device.open();
  let chain = Promise.resolve();
  const apply = (step: ReaderStep): void => {
    for (const w of step.writes) {
      chain = chain.then(async () => {
        if (w.delayMs > 0) await new Promise((r) => setTimeout(r, w.delayMs));
        if (link.device.isOpen) await link.device.write(w.bytes).catch(() => undefined);
      });
    }
    if (step.unplug) chain = chain.then(() => link.unplug());
  };
  link.device.onData((chunk) => apply(core.receive(chunk)));
  const r = await script(link.host, 'serial', model);
  await chain;
  const st = core.status();
  return r.ok ? { ok: true, value: r.value, commands: st.commands, apdus: st.apdus } : { ok: false, code: r.code, commands: st.commands, apdus: st.apdus };
}

/** The simulated serial reader over a real pty, opened with serialport. */
export async function runOnPty(t: { teardown(fn: () => void | Promise<void>): void }, model: ReaderModelName, c: ReaderCard, faults: Fault[]): Promise<Outcome> {
  const sim = serialSim(t, { model, slots: [c], faults });
  const r = await script(createSerialTransport({ path: sim.ptsName }), 'serial', model);
  const st = sim.status();
  await sim.close();
  return r.ok ? { ok: true, value: r.value, commands: st.commands, apdus: st.apdus } : { ok: false, code: r.code, commands: st.commands, apdus: st.apdus };
}

/** The simulated HID device. */
export async function runOnHid(model: ReaderModelName, c: ReaderCard, faults: Fault[]): Promise<Outcome> {
  const sim = hidSim({ model, slots: [c], faults });
  const r = await script(createHidTransport({ path: sim.path, opener: () => sim.open() }), 'hid', model);
  const st = sim.status();
  return r.ok ? { ok: true, value: r.value, commands: st.commands, apdus: st.apdus } : { ok: false, code: r.code, commands: st.commands, apdus: st.apdus };
}
