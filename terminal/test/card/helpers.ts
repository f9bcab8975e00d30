/** Test helpers: simulated readers (pty serial, HID) with cards from simulators/cards, and the SSC read script. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCard, loadCardFile, openSerialReader, createHidReader, type Fault, type ReaderCard, type SerialReader, type SimulatedHidReader, type ReaderModelName } from '@onecard/simulators';
import { selectSsse, readRecordByTag, selectByFid } from '@onecard/protocol/ssc';
import type { CardChannel } from '../../src/card/channel.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const CARDS = path.resolve(here, '../../../simulators/cards');

export function card(file: string, protocol?: 0 | 1): ReaderCard {
  const f = loadCardFile(path.join(CARDS, file));
  const p = protocol === undefined ? f : ({ ...f, profile: { ...f.profile, protocol } } as typeof f);
  return createCard(p);
}

export function tmpLink(t: { teardown(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onecard-link-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'ttyReader');
}

export function serialSim(t: { teardown(fn: () => void | Promise<void>): void }, o: { model?: ReaderModelName; slots?: Array<ReaderCard | undefined>; faults?: Fault[]; path?: string }): SerialReader {
  const sim = openSerialReader({ model: o.model ?? 'gempc-twin', slots: o.slots ?? [], faults: o.faults ?? [], ...(o.path === undefined ? {} : { path: o.path }) });
  t.teardown(() => sim.close());
  return sim;
}

export function hidSim(o: { model?: ReaderModelName; slots?: Array<ReaderCard | undefined>; faults?: Fault[]; path?: string }): SimulatedHidReader {
  return createHidReader({ model: o.model ?? 'gemcore-sim-pro2', slots: o.slots ?? [], faults: o.faults ?? [], path: o.path ?? 'sim:hidraw0' });
}

/** SELECT SSSE, SELECT EF05, READ RECORD tags 07 (card number) and 03 (spec version). */
export async function readSsc(ch: CardChannel): Promise<{ select: number; ef05: number; cardNumber: string; version: string }> {
  const sel = await ch.transmit(selectSsse());
  const ef05 = await ch.transmit(selectByFid(0xef05));
  const num = await ch.transmit(readRecordByTag(0x07));
  const ver = await ch.transmit(readRecordByTag(0x03));
  const text = (d: Uint8Array): string => new TextDecoder('latin1').decode(d.subarray(2));
  return { select: sel.sw, ef05: ef05.sw, cardNumber: `${text(num.data)}/${num.sw.toString(16)}`, version: `${text(ver.data)}/${ver.sw.toString(16)}` };
}
