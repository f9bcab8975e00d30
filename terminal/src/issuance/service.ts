/**
 * The issuance service [issuance §5, §6, §9.3; issue 20]: takes a holder's application through
 * 即制卡标注 → 制卡数据 → dispense → write (update-key authentication through the PSAM or the
 * regional HSM, UPDATE RECORD, read back and compare) → print → 回盘 → 启用 → eject, persisting
 * every step before and after it runs ({@link JobStore}). After a power cut or a kill,
 * {@link IssuanceService.resume} continues from the journal: the back-office calls are idempotent
 * per job, the dispenser is asked where the card is (never a second card for a job), and reading
 * the card back decides whether a write happened. A card fault or device fault ends with the card
 * in the retain bin and a failure 回盘; a back-office refusal after the card is written holds the
 * job with the card inside the device until it is resumed. Logs carry the job ID, step and error
 * codes only: no holder data, no authentication data.
 */
import type { Logger } from 'pino';
import { toHex } from '@onecard/protocol/bytes';
import { decodeAtr, type CommandApdu } from '@onecard/protocol/iso7816';
import { SSSE_DF_NAME, readRecordByTag, selectByName, getChallenge, externalAuthenticate, internalAuthenticate, parseInternalAuthenticate } from '@onecard/protocol/ssc';
import { provinceFactor } from '@onecard/protocol/psam';
import { timingSafeEqualBytes } from '@onecard/protocol/bytes';
import {
  type IssuanceApplication,
  type RegionalServices,
  type UpdateKeyFamily,
  type UpdateKeyParams,
  UPDATE_KEYS,
  compareReadBack,
  parseHsmKey,
  recordWrites,
  startUpdateKeyAuth,
  stepUpdateKeyAuth,
  updateKeyFactors,
} from '@onecard/protocol/issuance';
import { TerminalError } from '../errors.ts';
import type { ApduPort, IssuingDevice } from './device-client.ts';
import { channelOf } from './channel.ts';
import { deliverSessionKey, psamAuthData, selectPsamEnvironment } from '../services/psam.ts';
import { PSAM_KEYS, psamChallenge } from '../services/ssse.ts';
import { ISSUANCE_STEPS, type IssuanceStep, type JobRecord, type JobStore, isJobId } from './journal.ts';

/** How the update key is authenticated [issuance §5 PSAM, §6 HSM]. */
export type AuthMode = 'psam' | 'hsm';

/** A power cut injected by tests at a journal boundary: nothing after it runs. */
export class PowerCut extends Error {
  constructor() {
    super('power cut');
    this.name = 'PowerCut';
  }
}

export interface IssuanceServiceOptions {
  readonly device: IssuingDevice;
  /** The card's contacts (normally {@link deviceApduPort} `ic`). */
  readonly card: ApduPort;
  /** The PSAM (device SAM slot or a reader); required in `psam` mode. */
  readonly psam?: ApduPort;
  readonly region: RegionalServices;
  readonly store: JobStore;
  readonly logger: Logger;
  readonly clock: () => Date;
  readonly authMode: AuthMode;
  /** Test hook called after each journal write; throwing {@link PowerCut} stops the run there. */
  readonly afterPersist?: (jobId: string, step: IssuanceStep, phase: 'before' | 'after') => void;
}

/** What the desk and the kiosk show: no holder data beyond the card number. */
export interface JobView {
  readonly jobId: string;
  readonly status: JobRecord['status'];
  readonly step: IssuanceStep;
  readonly phase: 'before' | 'after';
  readonly stepIndex: number;
  readonly steps: readonly IssuanceStep[];
  readonly cardNumber?: string;
  readonly retained?: boolean;
  readonly error?: { readonly code: string; readonly message: string };
}

export function viewOf(r: JobRecord): JobView {
  return {
    jobId: r.jobId,
    status: r.status,
    step: r.step,
    phase: r.phase,
    stepIndex: ISSUANCE_STEPS.indexOf(r.step),
    steps: ISSUANCE_STEPS,
    ...(r.cardNumber === undefined ? {} : { cardNumber: r.cardNumber }),
    ...(r.retained === undefined ? {} : { retained: r.retained }),
    ...(r.error === undefined ? {} : { error: r.error }),
  };
}

type Rsp = { data: Uint8Array; sw: number };

/** Steps whose failure holds the job (card written, back office unreachable) instead of failing it. */
const HOLD_STEPS: ReadonlySet<IssuanceStep> = new Set(['returnData', 'enable']);

export class IssuanceService {
  readonly #o: IssuanceServiceOptions;
  #busy = false;
  readonly #runs = new Map<string, Promise<void>>();

  constructor(o: IssuanceServiceOptions) {
    if (o.authMode === 'psam' && o.psam === undefined) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', 'psam mode needs a PSAM port');
    this.#o = o;
  }

  /**
   * Starts a job and runs it to its end (issued, failed or held).
   * @throws TerminalError `TERM_ERR_ISSUANCE_BUSY`, `TERM_ERR_ISSUANCE_JOB` (bad or reused job ID),
   *   `TERM_ERR_ISSUANCE_JOURNAL`; {@link PowerCut} from the test hook.
   */
  async start(app: IssuanceApplication): Promise<JobView> {
    if (!isJobId(app.jobId)) throw new TerminalError('TERM_ERR_ISSUANCE_JOB', 'job id', { field: 'jobId' });
    if ((await this.#o.store.load(app.jobId)) !== undefined) throw new TerminalError('TERM_ERR_ISSUANCE_JOB', 'job id already used', { jobId: app.jobId });
    const r: JobRecord = { version: 1, jobId: app.jobId, region: app.region, kind: app.kind, step: 'mark', phase: 'before', status: 'running', application: app, history: [] };
    return this.#exclusive(() => this.#run(r, false));
  }

  /**
   * Starts a job in the background (the desk's request returns at once and polls {@link view}):
   * the journal record exists when this resolves. The run's end is in the journal; its promise is
   * {@link settled}.
   * @throws as {@link start} for the checks made before the run.
   */
  async submit(app: IssuanceApplication): Promise<JobView> {
    if (!isJobId(app.jobId)) throw new TerminalError('TERM_ERR_ISSUANCE_JOB', 'job id', { field: 'jobId' });
    this.#reserve();
    let r: JobRecord;
    try {
      if ((await this.#o.store.load(app.jobId)) !== undefined) throw new TerminalError('TERM_ERR_ISSUANCE_JOB', 'job id already used', { jobId: app.jobId });
      r = { version: 1, jobId: app.jobId, region: app.region, kind: app.kind, step: 'mark', phase: 'before', status: 'running', application: app, history: [] };
      await this.#o.store.save(r);
    } catch (e) {
      this.#busy = false;
      throw e;
    }
    this.#background(r.jobId, this.#reserved(() => this.#run(r, false)));
    return viewOf(r);
  }

  /**
   * Resumes a held or interrupted job in the background.
   * @throws TerminalError `TERM_ERR_ISSUANCE_JOB` when unknown or finished, `TERM_ERR_ISSUANCE_BUSY`.
   */
  async submitResume(jobId: string): Promise<JobView> {
    const r = isJobId(jobId) ? await this.#o.store.load(jobId) : undefined;
    if (r === undefined || (r.status !== 'running' && r.status !== 'held')) throw new TerminalError('TERM_ERR_ISSUANCE_JOB', 'not resumable', { jobId });
    this.#reserve();
    this.#background(jobId, this.#reserved(() => this.#run(r, true)));
    return viewOf(r);
  }

  /** The end of the background run of `jobId` (resolves at once when none runs). */
  async settled(jobId: string): Promise<void> {
    await this.#runs.get(jobId);
  }

  #background(jobId: string, run: Promise<JobView>): void {
    const p = run.then(
      () => undefined,
      (err: unknown) => {
        this.#o.logger.error({ jobId, code: err instanceof TerminalError ? err.code : 'unexpected' }, 'issuance run stopped');
      },
    );
    this.#runs.set(jobId, p);
    void p.finally(() => {
      if (this.#runs.get(jobId) === p) this.#runs.delete(jobId);
    });
  }

  /**
   * Continues an unfinished (running or held) job from its journal.
   * @throws TerminalError `TERM_ERR_ISSUANCE_JOB` when unknown or finished, as {@link start} otherwise.
   */
  async resume(jobId: string): Promise<JobView> {
    const r = await this.#o.store.load(jobId);
    if (r === undefined || (r.status !== 'running' && r.status !== 'held')) throw new TerminalError('TERM_ERR_ISSUANCE_JOB', 'not resumable', { jobId });
    return this.#exclusive(() => this.#run(r, true));
  }

  /** Resumes every unfinished job (at start-up), one after the other. */
  async resumeAll(): Promise<JobView[]> {
    const out: JobView[] = [];
    for (const r of await this.#o.store.unfinished()) out.push(await this.resume(r.jobId));
    return out;
  }

  /** The job's progress. @throws TerminalError `TERM_ERR_ISSUANCE_JOB` when unknown. */
  async view(jobId: string): Promise<JobView> {
    const r = isJobId(jobId) ? await this.#o.store.load(jobId) : undefined;
    if (r === undefined) throw new TerminalError('TERM_ERR_ISSUANCE_JOB', 'unknown job', { jobId });
    return viewOf(r);
  }

  #reserve(): void {
    if (this.#busy) throw new TerminalError('TERM_ERR_ISSUANCE_BUSY');
    this.#busy = true;
  }

  async #reserved<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } finally {
      this.#busy = false;
    }
  }

  async #exclusive<T>(f: () => Promise<T>): Promise<T> {
    this.#reserve();
    return this.#reserved(f);
  }

  async #persist(r: JobRecord, step: IssuanceStep, phase: 'before' | 'after'): Promise<void> {
    r.step = step;
    r.phase = phase;
    r.history.push({ step, phase, at: this.#o.clock().toISOString() });
    await this.#o.store.save(r);
    this.#o.logger.info({ jobId: r.jobId, step, phase }, 'issuance step');
    this.#o.afterPersist?.(r.jobId, step, phase);
  }

  async #run(r: JobRecord, resumed: boolean): Promise<JobView> {
    const log = this.#o.logger;
    if (resumed) log.info({ jobId: r.jobId, step: r.step, phase: r.phase }, 'issuance resumed');
    r.status = 'running';
    delete r.error;
    let i = ISSUANCE_STEPS.indexOf(r.step);
    if (r.phase === 'after') i++;
    let interrupted = resumed && r.phase === 'before';
    for (; i < ISSUANCE_STEPS.length; i++) {
      const step = ISSUANCE_STEPS[i]!;
      const again = interrupted;
      interrupted = false;
      if (!again) await this.#persist(r, step, 'before');
      try {
        await this.#step(r, step, again);
      } catch (err) {
        if (err instanceof PowerCut) throw err;
        await this.#onError(r, step, err);
        return viewOf(r);
      }
      await this.#persist(r, step, 'after');
    }
    r.status = 'issued';
    delete r.application;
    delete r.cardData;
    await this.#o.store.save(r);
    log.info({ jobId: r.jobId, status: r.status, retained: r.retained === true }, 'issuance ended');
    return viewOf(r);
  }

  async #onError(r: JobRecord, step: IssuanceStep, err: unknown): Promise<void> {
    const log = this.#o.logger;
    const code = err instanceof TerminalError ? err.code : 'TERM_ERR_ISSUANCE_BACK_OFFICE';
    const message = err instanceof Error ? err.message : String(err);
    r.error = { code, message };
    if (HOLD_STEPS.has(step)) {
      // [issuance §11 item 10] the card is written: keep it in the device, retry the back office later.
      r.status = 'held';
      await this.#o.store.save(r);
      log.warn({ jobId: r.jobId, step, code }, 'issuance held');
      return;
    }
    if (step === 'eject') {
      // Issued and enabled, but the card cannot leave: it goes to the retain bin for staff to hand over.
      r.retained = await this.#retain();
      r.status = 'issued';
      delete r.application;
      delete r.cardData;
      await this.#o.store.save(r);
      log.warn({ jobId: r.jobId, step, code, retained: r.retained }, 'issued card retained');
      return;
    }
    const dispensed = ISSUANCE_STEPS.indexOf(step) >= ISSUANCE_STEPS.indexOf('dispense');
    if (dispensed) r.retained = await this.#retain();
    if (r.batch !== undefined && r.cardNumber !== undefined) {
      try {
        await this.#o.region.returnCardData({ jobId: r.jobId, outcome: 'failed', batch: r.batch, cardNumber: r.cardNumber, reason: code, ...(r.cardId === undefined ? {} : { cardId: r.cardId }) });
        r.failureReported = true;
      } catch {
        r.failureReported = false;
      }
    }
    r.status = 'failed';
    delete r.application;
    delete r.cardData;
    await this.#o.store.save(r);
    log.warn({ jobId: r.jobId, step, code, retained: r.retained === true }, 'issuance failed');
  }

  /** Moves whatever card is in the transport to the retain bin; true when one was retained. */
  async #retain(): Promise<boolean> {
    try {
      const s = await this.#o.device.command({ kind: 'status' });
      if (s.position === 'none') return false;
      await this.#o.device.command({ kind: 'retain' });
      return true;
    } catch (err) {
      this.#o.logger.error({ code: err instanceof TerminalError ? err.code : 'unknown' }, 'retain failed');
      return false;
    }
  }

  async #backOffice<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      if (err instanceof TerminalError || err instanceof PowerCut) throw err;
      const reason = (err as { details?: { reason?: unknown } }).details?.reason;
      const why = typeof reason === 'string' ? reason : 'refused';
      throw new TerminalError('TERM_ERR_ISSUANCE_BACK_OFFICE', why, { reason: why }, { cause: err });
    }
  }

  async #step(r: JobRecord, step: IssuanceStep, again: boolean): Promise<void> {
    const { device, region } = this.#o;
    switch (step) {
      case 'mark': {
        const app = this.#application(r);
        r.batch = (await this.#backOffice(() => region.markCard(app))).batch;
        return;
      }
      case 'cardData': {
        const d = await this.#backOffice(() => region.getCardData(r.jobId, r.batch!));
        r.cardData = d;
        r.cardNumber = d.cardNumber;
        return;
      }
      case 'dispense': {
        const s = await device.command({ kind: 'status' });
        if (s.position !== 'none') {
          // [issuance §11 item 10] After a cut during this step the card in the transport is this
          // job's; on a first run it is a stranger's and goes to the retain bin first.
          if (again && (s.position === 'contact' || s.position === 'print')) {
            if (s.position === 'print') await device.command({ kind: 'move', to: 'contact' });
            return;
          }
          if (s.position === 'bezel') throw new TerminalError('TERM_ERR_ISSUANCE_DEVICE', 'a card waits at the bezel', { error: '0015', meaning: 'card at bezel or inside' });
          await device.command({ kind: 'retain' });
        }
        await device.command({ kind: 'move', to: 'contact' });
        return;
      }
      case 'write':
        await this.#write(r);
        return;
      case 'print': {
        const s = await device.command({ kind: 'status' });
        if (again && s.position === 'print') {
          throw new TerminalError('TERM_ERR_ISSUANCE_DEVICE', 'print interrupted: the face may be incomplete', { error: '0099', meaning: 'print interrupted' });
        }
        if (s.position !== 'print') await device.command({ kind: 'move', to: 'print' });
        await device.command({ kind: 'print', text: this.#cardData(r).face.join('\n') });
        return;
      }
      case 'returnData':
        await this.#backOffice(() => region.returnCardData({ jobId: r.jobId, outcome: 'issued', batch: r.batch!, cardNumber: r.cardNumber!, cardId: r.cardId!, atr: r.atr! }));
        return;
      case 'enable':
        await this.#backOffice(() => region.enableCard(r.jobId, r.cardNumber!));
        return;
      case 'eject': {
        const s = await device.command({ kind: 'status' });
        if (again && (s.position === 'bezel' || s.position === 'none')) return;
        await device.command({ kind: 'eject' });
        return;
      }
    }
  }

  #application(r: JobRecord): IssuanceApplication {
    if (r.application === undefined) throw new TerminalError('TERM_ERR_ISSUANCE_JOB', 'application data gone', { jobId: r.jobId });
    return r.application;
  }

  #cardData(r: JobRecord): NonNullable<JobRecord['cardData']> {
    if (r.cardData === undefined) throw new TerminalError('TERM_ERR_ISSUANCE_JOB', 'card data gone', { jobId: r.jobId });
    return r.cardData;
  }

  async #tx(port: ApduPort, apdu: CommandApdu, step: string, ok: (sw: number) => boolean = (sw) => sw === 0x9000): Promise<Rsp> {
    const res = await port.transmit(apdu);
    if (!ok(res.sw)) throw new TerminalError('TERM_ERR_ISSUANCE_CARD', `SW ${res.sw.toString(16).toUpperCase().padStart(4, '0')} at ${step}`, { sw: res.sw, step });
    return { data: res.data, sw: res.sw };
  }

  // [issuance §5, §6.3 INFER order] power, SELECT SSSE, card ID, (3.0: RKSSSE) read back →
  // already written? else UKSSSE → write → read back and compare.
  async #write(r: JobRecord): Promise<void> {
    const card = this.#o.card;
    const atr = await card.reset();
    const hist = decodeAtr(atr).historicalBytes;
    await this.#tx(card, selectByName(SSSE_DF_NAME), 'selectSsse');
    const id = await this.#tx(card, readRecordByTag(0x01, { sfi: 0x05 }), 'readCardId');
    if (id.data.length !== 18 || id.data[0] !== 0x01 || id.data[1] !== 0x10) throw new TerminalError('TERM_ERR_ISSUANCE_CARD', 'card ID record malformed', { sw: 0x9000, step: 'readCardId' });
    const cardId = id.data.slice(2);
    if (r.cardId !== undefined && r.cardId !== toHex(cardId)) throw new TerminalError('TERM_ERR_ISSUANCE_WRONG_CARD', undefined, { jobId: r.jobId });
    r.cardId = toHex(cardId);
    r.atr = toHex(atr);
    const version = await this.#tx(card, readRecordByTag(0x03, { sfi: 0x05 }), 'readVersion');
    const family: UpdateKeyFamily = String.fromCharCode(...version.data.subarray(2)).startsWith('3') ? 'sm4' : 'des';
    const factors = updateKeyFactors(hist, cardId);
    await this.#genuine(family, factors, toHex(cardId.subarray(0, 3)));
    const writes = recordWrites(this.#cardData(r).items);
    const readBack = async (): Promise<Uint8Array> => {
      if (family === 'sm4') await this.#authenticate(r, family, factors, hist, { cardKeyId: 0x0a, psamKeyId: 0x0a, usage: 0x47 }, 'rkssse');
      const parts: Uint8Array[] = [];
      for (const w of writes) {
        const res = await card.transmit(readRecordByTag(w.tag, { sfi: w.file === 'EF05' ? 5 : 6 }));
        if (res.sw === 0x9000) parts.push(res.data);
      }
      const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of parts) {
        out.set(p, o);
        o += p.length;
      }
      return out;
    };
    // [issuance §11 item 10] read-back decides whether a write already happened.
    if (compareReadBack(writes, await readBack()).length === 0) return;
    await this.#authenticate(r, family, factors, hist, UPDATE_KEYS.UKSSSE, 'ukssse');
    for (const w of writes) await this.#tx(card, w.apdu, `write${w.tag.toString(16).padStart(2, '0')}`);
    const mism = compareReadBack(writes, await readBack());
    if (mism.length > 0) throw new TerminalError('TERM_ERR_ISSUANCE_READBACK', undefined, { tags: mism.map((m) => m.tag.toString(16)).join(',') });
  }

  // [issuance §5.1 remark, INFER; ssc-card §10.1] INTERNAL AUTHENTICATE with the IRK before any
  // holder data is written, so that a counterfeit blank is refused. Needs the PSAM (HSM mode
  // without a PSAM skips it: the national HSM interface has its own internal-auth step).
  async #genuine(family: UpdateKeyFamily, f: { cardFactor: Uint8Array; cityFactor: Uint8Array }, region: string): Promise<void> {
    const psam = this.#o.psam;
    if (psam === undefined) return;
    const pch = channelOf(psam, await psam.reset());
    await selectPsamEnvironment(pch, family);
    const r1 = await psamChallenge(pch);
    const r2 = await psamChallenge(pch);
    await deliverSessionKey(pch, { family, ...PSAM_KEYS.IRK, factors: [f.cardFactor, f.cityFactor, provinceFactor(region)], random: r1, missing: 'TERM_ERR_PSAM_KEY_LEVEL' });
    const x = await psamAuthData(pch, family, r2);
    const res = await this.#o.card.transmit(internalAuthenticate(r1, r2));
    if (res.sw !== 0x9000 || res.data.length !== 8 || !timingSafeEqualBytes(x, parseInternalAuthenticate(res.data))) {
      throw new TerminalError('TERM_ERR_CARD_NOT_GENUINE', 'internal authentication of the blank card', { sw: res.sw });
    }
  }

  async #authenticate(r: JobRecord, family: UpdateKeyFamily, f: { cardFactor: Uint8Array; cityFactor: Uint8Array }, hist: Uint8Array, key: UpdateKeyParams['key'], name: string): Promise<void> {
    const card = this.#o.card;
    if (this.#o.authMode === 'hsm' && key.cardKeyId === UPDATE_KEYS.UKSSSE.cardKeyId) {
      // [SC-IF §3.1; issuance §6] two challenges: the first is the original data, the last the session factor.
      const original = (await this.#tx(card, getChallenge(8), 'challenge')).data;
      const sessionFactor = (await this.#tx(card, getChallenge(8), 'challenge')).data;
      const step1 = { algorithm: family === 'sm4' ? (3 as const) : (1 as const), keyAddress: '0094', sessionFactor, original };
      const pKey = await this.#backOffice(() => this.#o.region.hsmExternalAuth({ jobId: r.jobId, region: r.region, step1, cardId: r.cardId!, historicalBytes: toHex(hist) }));
      const k = parseHsmKey(toHex(pKey), original);
      pKey.fill(0);
      await this.#tx(card, externalAuthenticate(key.cardKeyId, k.authData, k.original, family === 'sm4' ? 1 : undefined), name);
      k.authData.fill(0);
      return;
    }
    const psam = this.#o.psam;
    if (psam === undefined) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', 'no PSAM for this key');
    await psam.reset();
    const p: UpdateKeyParams = { family, key, cardFactor: f.cardFactor, cityFactor: f.cityFactor };
    let { state, effect } = startUpdateKeyAuth(p);
    while (effect.kind === 'send') {
      const res = await (effect.to === 'card' ? card : psam).transmit(effect.apdu);
      ({ state, effect } = stepUpdateKeyAuth(p, state, res));
    }
    if (effect.kind === 'failed') throw new TerminalError('TERM_ERR_ISSUANCE_CARD', `SW ${effect.sw.toString(16).toUpperCase().padStart(4, '0')} at ${name}:${effect.at}`, { sw: effect.sw, step: `${name}:${effect.at}` });
  }
}
