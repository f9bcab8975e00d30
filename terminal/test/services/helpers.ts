/**
 * Test support for the services suites: simulated cards and PSAMs from the example and fixture
 * JSON files, memory channels over them (T=0 through the simulators' TPDU adapter), a fixed clock
 * and the planted secrets the log scan looks for.
 */
import { readFileSync } from 'node:fs';
import {
  createPsam, createSscCard, createTransitCard, parsePsamProfileJson, parseSscProfile, parseTransitCardProfile, sscHistoricalBytes,
  t0Transmit, type Psam, type PsamProfile, type SimulatedCard, type SscProfile, type TransitCardProfile, type UserCard,
} from '@onecard/simulators';
import { createMemoryChannel, type MemoryChannel } from '../../src/card/memory-channel.ts';
import type { Clock } from '../../src/services/index.ts';

const simCards = new URL('../../../simulators/cards/', import.meta.url);
const fixtures = new URL('../fixtures/', import.meta.url);

/** Raw JSON of a card file (examples: `sim:NAME`, fixtures: `fix:NAME`). */
export function cardJson(ref: string): Record<string, unknown> {
  const [where, name] = ref.split(':') as [string, string];
  const url = new URL(name, where === 'sim' ? simCards : fixtures);
  return JSON.parse(readFileSync(url, 'utf8')) as Record<string, unknown>;
}

export const sscProfile = (ref: string, patch: Record<string, unknown> = {}): SscProfile => parseSscProfile({ ...cardJson(ref), ...patch });
export const psamProfile = (patch: Record<string, unknown> = {}): PsamProfile => parsePsamProfileJson({ ...cardJson('sim:psam.json'), ...patch });
export const transitProfile = (patch: Record<string, unknown> = {}): TransitCardProfile => parseTransitCardProfile({ ...cardJson('sim:transit-only.json'), ...patch });

export const sscCard = (p: SscProfile): UserCard => createSscCard(p);
export const psamCard = (p: PsamProfile = psamProfile()): Psam => createPsam(p);
export const transitCard = (p: TransitCardProfile = transitProfile()): UserCard => createTransitCard(p);

/** A memory channel over `card` (power-up); T=0 cards travel as TPDUs. */
export function channel(card: SimulatedCard & { injectTear?(p: 'before-commit' | 'after-commit'): void }): MemoryChannel {
  return createMemoryChannel(card, card.protocol === 0 ? { t0: (tpdu) => t0Transmit(card, tpdu) } : {});
}

/** 2025-06-01 10:00 +08:00. */
export const fixedClock: Clock = { now: () => Date.UTC(2025, 5, 1, 2, 0, 0) };
export const clockAt = (y: number, m: number, d: number): Clock => ({ now: () => Date.UTC(y, m - 1, d, 2, 0, 0) });

/** The ATR historical bytes the card profile produces, upper-case hex. */
export function historicalHex(p: SscProfile): string {
  return Array.from(sscHistoricalBytes(p.chipSupplier, p.cosData, p.manufacturer, p.region, p.cardSerial), (b) => b.toString(16).padStart(2, '0')).join('').toUpperCase();
}

/** PINs the suites plant (never to be logged). */
export const PLANTED_PINS = ['583719', '246813', '905172', '771346', '123456'];

/** Every key hex string of the card JSON files used by the suites. */
export function plantedKeys(): string[] {
  const out = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string' && /^[0-9A-F]{32}$/i.test(v)) out.add(v.toUpperCase());
    else if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object' && v !== null) Object.values(v).forEach(walk);
  };
  for (const ref of ['sim:psam.json', 'sim:ssc-2.00.json', 'sim:ssc-3.00-long-name.json', 'sim:transit-only.json', 'fix:ssc-2.00-x.json', 'fix:ssc-3.00-x.json']) {
    const j = cardJson(ref);
    walk(j['keys']);
    walk(j['purseKeys']);
    walk((j['transit'] as Record<string, unknown> | undefined)?.['keys']);
  }
  return [...out];
}

/** Full SSNs of the cards used by the suites. */
export function plantedSsns(): string[] {
  return ['sim:ssc-2.00.json', 'sim:ssc-3.00-long-name.json', 'fix:ssc-2.00-x.json', 'fix:ssc-3.00-x.json'].map((r) => String(cardJson(r)['ssn']));
}
