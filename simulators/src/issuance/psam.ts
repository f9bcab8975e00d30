/**
 * The PSAM an issuing site holds, on the existing simulated {@link Psam}: key records for the
 * update key UKSSSE (`12`), UK1SSSE (`13`), the block key BK (`11`), STK (`09`), RKSSSE (`0A`) and
 * IRK (`08`) in both environments, from the same OneCard test roots as {@link BlankCard}
 * [issuance §3; KEY-IDX]. The SM4 environment is selected by the name `sx3.sh.社会保障`
 * [issuance §2.2, CODE KIOSK-JS]; its key-file layout on real PSAMs is an open question
 * [issuance §11 item 1], so the simulator serves `sx3` with its 16-byte environment (`sx2`).
 */
import { buildAtr } from '../card/atr.ts';
import type { Family } from '../card/crypto.ts';
import { psamStoredKey } from '../card/keys.ts';
import type { PsamKeyProfile, PsamProfile } from '../card/profile.ts';
import { Psam } from '../card/psam.ts';
import { seededRandom } from '../card/random.ts';
import type { SimulatedCard } from '../card/types.ts';
import type { BlankCardRoots } from './blank-card.ts';

const NAME_SX2 = Uint8Array.of(0x73, 0x78, 0x32, 0x2e, 0x73, 0x68, 0x2e, 0xc9, 0xe7, 0xbb, 0xe1, 0xb1, 0xa3, 0xd5, 0xcf);
const NAME_SX3 = Uint8Array.of(0x73, 0x78, 0x33, 0x2e, 0x73, 0x68, 0x2e, 0xc9, 0xe7, 0xbb, 0xe1, 0xb1, 0xa3, 0xd5, 0xcf);

/** PSAM key identifiers and usage bytes of issuance and maintenance [issuance §3]. */
export const ISSUANCE_PSAM_KEYS = {
  IRK: { id: 0x08, usage: 0x67 },
  STK: { id: 0x09, usage: 0x48 },
  RKSSSE: { id: 0x0a, usage: 0x47 },
  BK: { id: 0x11, usage: 0x48 },
  UKSSSE: { id: 0x12, usage: 0x48 },
  UK1SSSE: { id: 0x13, usage: 0x48 },
} as const;

/** A PSAM that also answers SELECT `sx3.sh.社会保障`. */
export class IssuancePsam implements SimulatedCard {
  readonly #inner: Psam;
  constructor(inner: Psam) {
    this.#inner = inner;
  }
  get atr(): Uint8Array {
    return this.#inner.atr;
  }
  get protocol(): 0 | 1 {
    return this.#inner.protocol;
  }
  reset(): Uint8Array {
    return this.#inner.reset();
  }
  transmit(apdu: Uint8Array): Uint8Array {
    if (apdu.length === 5 + NAME_SX3.length && apdu[1] === 0xa4 && apdu[2] === 0x04 && NAME_SX3.every((b, i) => apdu[5 + i] === b)) {
      const mapped = apdu.slice();
      mapped.set(NAME_SX2, 5);
      return this.#inner.transmit(mapped);
    }
    return this.#inner.transmit(apdu);
  }
}

/**
 * Builds the issuing site's PSAM for the cards of `region`: each key stored at the level its usage
 * byte says (3 levels: the root; 2 levels: the province key).
 */
export function createIssuancePsam(opts: { readonly roots: BlankCardRoots; readonly region: string; readonly seed?: number; readonly protocol?: 0 | 1; readonly terminalNumber?: string }): IssuancePsam {
  const r = opts.roots;
  const keys: PsamKeyProfile[] = [];
  for (const env of ['des', 'sm4'] as Family[]) {
    const add = (k: { id: number; usage: number }, root: Uint8Array): void => {
      const levels = k.usage >> 5;
      keys.push({ env, id: k.id, usage: k.usage, key: psamStoredKey(env, root, opts.region, 3 - levels, 'generic') });
    };
    add(ISSUANCE_PSAM_KEYS.IRK, r.irk);
    add(ISSUANCE_PSAM_KEYS.STK, r.stk);
    add(ISSUANCE_PSAM_KEYS.RKSSSE, r.rkssse);
    add(ISSUANCE_PSAM_KEYS.BK, r.bk);
    add(ISSUANCE_PSAM_KEYS.UKSSSE, r.ukssse);
  }
  const historicalBytes = Uint8Array.of(0x86, 0x01, 0x50, 0x53, 0x41, 0x4d);
  const profile: PsamProfile = {
    protocol: opts.protocol ?? 0,
    seed: opts.seed ?? 11,
    terminalNumber: opts.terminalNumber ?? `${opts.region}000001`,
    serial: '00000000000000000020',
    issuerId: 1,
    purchaseKeyIndex: 1,
    transactionSerial: 0,
    historicalBytes,
    keys,
    purseKeys: [],
  };
  return new IssuancePsam(new Psam(profile, buildAtr(profile.protocol, historicalBytes), seededRandom(profile.seed)));
}
