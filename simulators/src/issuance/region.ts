/**
 * A fake region behind the {@link RegionalServices} adapter [issuance §9.3, §6; §11 item 6]: a
 * card-management system (即制卡标注, 制卡数据, 回盘, 启用) over an in-memory holder registry, and
 * an HSM answering HSM-mode update-key authentication under the national step rules: only the
 * UKSSSE address `0094`, the algorithm of the request, a card ID of the region, and a session
 * factor never seen before (replay refused). Every call is idempotent per job, and the fake
 * refuses what a real back office must refuse: a second card for a job, 回盘 with another card
 * number, 启用 before a successful 回盘. Faults can be injected per operation.
 */
import type { CardData, HsmAuthRequest, IssuanceApplication, MarkResult, RegionalServices, ReturnCardData } from '@onecard/protocol/issuance';
import { cardNumberCheckChar } from '@onecard/protocol/ssc';
import { fromHex, toHex } from '@onecard/protocol/bytes';
import { authData, disperse, sessionKey, type Family } from '../card/crypto.ts';
import { cityFactor, provinceFactor } from '../card/keys.ts';
import { SimulatorError } from '../errors.ts';

/** A person known to the fake registry. */
export interface FakeHolder {
  readonly ssn: string;
  readonly name: string;
  readonly sex: string;
  readonly ethnicGroup: string;
  readonly birthplace: string;
  readonly birthDate: string;
}

export type RegionOp = 'markCard' | 'getCardData' | 'returnCardData' | 'enableCard' | 'hsmExternalAuth';

interface Job {
  readonly app: IssuanceApplication;
  readonly batch: string;
  data: CardData | undefined;
  returned: ReturnCardData | undefined;
  enabled: boolean;
}

const HSM_ADDRESS_UKSSSE = '0094';

/** The fake region. */
export class FakeRegion implements RegionalServices {
  readonly region: string;
  readonly #holders: ReadonlyMap<string, FakeHolder>;
  readonly #jobs = new Map<string, Job>();
  readonly #hsmRoot: Uint8Array;
  readonly #clock: () => Date;
  readonly #seen = new Set<string>();
  readonly #faults = new Map<RegionOp, string>();
  readonly #calls = new Map<RegionOp, number>();
  #serial: number;

  constructor(opts: { readonly region: string; readonly holders: readonly FakeHolder[]; readonly ukssseRoot: Uint8Array; readonly clock: () => Date; readonly firstCardSerial?: number }) {
    this.region = opts.region;
    this.#holders = new Map(opts.holders.map((h) => [h.ssn, h]));
    this.#hsmRoot = opts.ukssseRoot.slice();
    this.#clock = opts.clock;
    this.#serial = opts.firstCardSerial ?? 1;
  }

  /** The next call of `op` is refused with `reason` (one-shot). */
  failNext(op: RegionOp, reason = 'unavailable'): void {
    this.#faults.set(op, reason);
  }

  /** How many times `op` was called (refusals included). */
  calls(op: RegionOp): number {
    return this.#calls.get(op) ?? 0;
  }

  /** The back office's view of a job, for assertions. */
  job(jobId: string): { readonly batch: string; readonly cardNumber: string | undefined; readonly returned: ReturnCardData | undefined; readonly enabled: boolean } | undefined {
    const j = this.#jobs.get(jobId);
    return j === undefined ? undefined : { batch: j.batch, cardNumber: j.data?.cardNumber, returned: j.returned, enabled: j.enabled };
  }

  #enter(op: RegionOp): void {
    this.#calls.set(op, this.calls(op) + 1);
    const f = this.#faults.get(op);
    if (f !== undefined) {
      this.#faults.delete(op);
      this.#refuse(op, f);
    }
  }

  #refuse(op: RegionOp, reason: string): never {
    throw new SimulatorError('SIM_ERR_SERVICE_REFUSED', `${op}: ${reason}`, { op, reason });
  }

  #job(op: RegionOp, jobId: string): Job {
    const j = this.#jobs.get(jobId);
    if (j === undefined) this.#refuse(op, 'unknown-job');
    return j;
  }

  async markCard(app: IssuanceApplication): Promise<MarkResult> {
    this.#enter('markCard');
    const existing = this.#jobs.get(app.jobId);
    if (existing !== undefined) {
      if (existing.app.ssn !== app.ssn) this.#refuse('markCard', 'job-differs');
      return { batch: existing.batch };
    }
    if (app.region !== this.region) this.#refuse('markCard', 'other-region');
    if (!this.#holders.has(app.ssn)) this.#refuse('markCard', 'unknown-holder');
    for (const j of this.#jobs.values()) {
      if (j.app.ssn === app.ssn && j.returned?.outcome !== 'failed' && !j.enabled) this.#refuse('markCard', 'job-open');
    }
    const batch = `B${this.region}${String(this.#jobs.size + 1).padStart(4, '0')}`;
    this.#jobs.set(app.jobId, { app, batch, data: undefined, returned: undefined, enabled: false });
    return { batch };
  }

  async getCardData(jobId: string, batch: string): Promise<CardData> {
    this.#enter('getCardData');
    const j = this.#job('getCardData', jobId);
    if (j.batch !== batch) this.#refuse('getCardData', 'batch-differs');
    if (j.data !== undefined) return j.data;
    if (j.returned !== undefined) this.#refuse('getCardData', 'job-closed');
    const h = this.#holders.get(j.app.ssn)!;
    const first8 = `${String.fromCharCode(65 + (this.#serial % 26))}${String(this.#serial).padStart(7, '0')}`;
    this.#serial++;
    const cardNumber = `${first8}${cardNumberCheckChar(first8)}`;
    const now = this.#clock();
    const ymd = (d: Date): string => `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
    const expiry = new Date(Date.UTC(now.getUTCFullYear() + 10, now.getUTCMonth(), now.getUTCDate()));
    j.data = {
      cardNumber,
      items: { issueDate: ymd(now), expiryDate: ymd(expiry), cardNumber, ssn: h.ssn, name: h.name, sex: h.sex, ethnicGroup: h.ethnicGroup, birthplace: h.birthplace, birthDate: h.birthDate },
      face: [h.name, `${h.ssn.slice(0, 6)}********${h.ssn.slice(14)}`, cardNumber, `${ymd(now).slice(0, 4)}.${ymd(now).slice(4, 6)}`],
    };
    return j.data;
  }

  async returnCardData(r: ReturnCardData): Promise<void> {
    this.#enter('returnCardData');
    const j = this.#job('returnCardData', r.jobId);
    if (j.data === undefined) this.#refuse('returnCardData', 'no-card-data');
    if (r.batch !== j.batch || r.cardNumber !== j.data.cardNumber) this.#refuse('returnCardData', 'card-number-differs');
    if (j.returned !== undefined) {
      const same = j.returned.outcome === r.outcome && (r.outcome === 'failed' || (j.returned.outcome === 'issued' && j.returned.cardId === r.cardId));
      if (!same) this.#refuse('returnCardData', r.outcome === 'issued' && j.returned.outcome === 'issued' ? 'second-card' : 'already-returned');
      return;
    }
    j.returned = r;
  }

  async enableCard(jobId: string, cardNumber: string): Promise<void> {
    this.#enter('enableCard');
    const j = this.#job('enableCard', jobId);
    if (j.returned?.outcome !== 'issued') this.#refuse('enableCard', 'not-returned');
    if (j.data?.cardNumber !== cardNumber) this.#refuse('enableCard', 'card-number-differs');
    j.enabled = true;
  }

  // [SC-IF §3, app. B; issuance §6] HSM-mode external authentication of the update key.
  async hsmExternalAuth(req: HsmAuthRequest): Promise<Uint8Array> {
    this.#enter('hsmExternalAuth');
    this.#job('hsmExternalAuth', req.jobId);
    const s = req.step1;
    if (s.keyAddress !== HSM_ADDRESS_UKSSSE) this.#refuse('hsmExternalAuth', 'key-address');
    if (!/^[0-9A-F]{32}$/i.test(req.cardId) || !req.cardId.startsWith(this.region)) this.#refuse('hsmExternalAuth', 'card-id');
    if (!/^([0-9A-F]{2}){13,15}$/i.test(req.historicalBytes)) this.#refuse('hsmExternalAuth', 'historical-bytes');
    const replayKey = toHex(s.sessionFactor);
    if (this.#seen.has(replayKey)) this.#refuse('hsmExternalAuth', 'replay');
    this.#seen.add(replayKey);
    const family: Family = s.algorithm === 3 ? 'sm4' : 'des';
    const hist = fromHex(req.historicalBytes);
    const key = disperse(family, this.#hsmRoot, [provinceFactor(this.region), cityFactor(req.cardId.slice(0, 6), 'generic'), hist.slice(5, 13)]);
    const a = authData(family, sessionKey(family, key, s.sessionFactor), s.original);
    const out = new Uint8Array(16);
    out.set(a, 0);
    out.set(s.original, 8);
    key.fill(0);
    return out;
  }
}
