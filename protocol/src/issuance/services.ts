/**
 * The seam between OneCard's issuance flow and a region's back office [issuance §6, §9.3, §11
 * item 6]: one {@link RegionalServices} interface that each region implements as an adapter
 * (card management: 即制卡标注, 制卡数据, 回盘, 启用; HSM-mode update-key authentication), and the
 * string format of the national `iWriteCard_HSM_Step1` output and `Step2` key [SC-IF §3, app. C.3].
 * Every call carries the job ID and must be idempotent for it: a retry after a power cut repeats
 * the call with the same arguments and must get the same answer, never a second card.
 */
import { ProtocolError } from '../errors.ts';
import { fromHex, toHex } from '../bytes.ts';
import type { SscBasicData } from '../ssc/data-items.ts';

/** What the holder asked for at the desk or kiosk. */
export interface IssuanceApplication {
  /** Unique per issuance attempt chain; the key of idempotency. */
  readonly jobId: string;
  readonly region: string;
  /** Citizen ID (social security number); personal data, never logged in full. */
  readonly ssn: string;
  readonly name: string;
  /** `new` or `replacement` (the old card number is then hotlisted by the back office). */
  readonly kind: 'new' | 'replacement';
}

/** 即制卡标注 answer [issuance §9.3 step 1]. */
export interface MarkResult {
  readonly batch: string;
}

/** 制卡数据: the items the site writes, from the card-management system [issuance §4, §9.3]. */
export interface CardData {
  readonly cardNumber: string;
  /** EF05 `05`/`06` and the EF06 items, as decoded values (see `SscBasicData`). */
  readonly items: Required<Pick<SscBasicData, 'issueDate' | 'expiryDate' | 'cardNumber' | 'ssn' | 'name' | 'sex' | 'ethnicGroup' | 'birthplace' | 'birthDate'>>;
  /** Text lines printed on the card face [issuance §9.3 step 4; §11 item 8 layout is regional]. */
  readonly face: readonly string[];
}

/** 回盘 [issuance §9.3 step 5]. */
export type ReturnCardData =
  | { readonly jobId: string; readonly outcome: 'issued'; readonly batch: string; readonly cardNumber: string; readonly cardId: string; readonly atr: string }
  | { readonly jobId: string; readonly outcome: 'failed'; readonly batch: string; readonly cardNumber: string; readonly reason: string; readonly cardId?: string };

/** HSM-mode external authentication request (iWriteCard step 1 output plus card data) [issuance §6.1–6.2]. */
export interface HsmAuthRequest {
  readonly jobId: string;
  readonly region: string;
  readonly step1: HsmStep1Output;
  /** Card identification code, 32 hex. */
  readonly cardId: string;
  /** ATR historical bytes, hex. */
  readonly historicalBytes: string;
}

/** The regional adapter. Every method rejects with an error carrying a stable code on refusal. */
export interface RegionalServices {
  readonly region: string;
  markCard(app: IssuanceApplication): Promise<MarkResult>;
  getCardData(jobId: string, batch: string): Promise<CardData>;
  returnCardData(r: ReturnCardData): Promise<void>;
  enableCard(jobId: string, cardNumber: string): Promise<void>;
  /** Returns `pKey` of iWriteCard step 2: auth data 8 ‖ original data 8. */
  hsmExternalAuth(req: HsmAuthRequest): Promise<Uint8Array>;
}

/** `iWriteCard_HSM_Step1` output: `算法标识|外部认证密钥地址|外部认证过程因子|外部认证鉴别所需的原始信息|` [SC-IF §3.1]. */
export interface HsmStep1Output {
  /** 1 DES family, 3 SM4 [SC-IF §10.1]. */
  readonly algorithm: 1 | 3;
  /** HSM logical key address, 4 hex, e.g. `0094` (UKSSSE group 01) [SC-IF app. B]. */
  readonly keyAddress: string;
  /** Session factor: the card's last challenge (8 bytes). */
  readonly sessionFactor: Uint8Array;
  /** Original data (8 bytes). */
  readonly original: Uint8Array;
}

const bad = (detail: string, field: string): never => {
  throw new ProtocolError('PROTO_ERR_ISSUANCE_RESPONSE', detail, { field });
};

/**
 * Formats the step-1 output string, hex upper case, with the trailing `|`.
 * @throws ProtocolError `PROTO_ERR_ISSUANCE_PARAM` on a bad algorithm, address or lengths.
 */
export function formatHsmStep1(o: HsmStep1Output): string {
  if ((o.algorithm !== 1 && o.algorithm !== 3) || !/^[0-9A-F]{4}$/.test(o.keyAddress) || o.sessionFactor.length !== 8 || o.original.length !== 8) {
    throw new ProtocolError('PROTO_ERR_ISSUANCE_PARAM', 'step-1 output fields', { field: 'step1' });
  }
  return `${o.algorithm}|${o.keyAddress}|${toHex(o.sessionFactor)}|${toHex(o.original)}|`;
}

/**
 * Parses the step-1 output string.
 * @throws ProtocolError `PROTO_ERR_ISSUANCE_RESPONSE` naming the field at fault.
 */
export function parseHsmStep1(s: string): HsmStep1Output {
  const f = s.split('|');
  if (f.length !== 5 || f[4] !== '') return bad('four |-terminated fields', 'step1');
  const algorithm = f[0] === '1' ? 1 : f[0] === '3' ? 3 : bad('algorithm must be 1 or 3', 'algorithm');
  if (!/^[0-9A-Fa-f]{4}$/.test(f[1]!)) return bad('key address is 4 hex digits', 'keyAddress');
  if (!/^[0-9A-Fa-f]{16}$/.test(f[2]!)) return bad('session factor is 16 hex digits', 'sessionFactor');
  if (!/^[0-9A-Fa-f]{16}$/.test(f[3]!)) return bad('original data is 16 hex digits', 'original');
  return { algorithm, keyAddress: f[1]!.toUpperCase(), sessionFactor: fromHex(f[2]!), original: fromHex(f[3]!) };
}

/**
 * Parses `pKey` of step 2: 32 hex digits = auth data 8 ‖ original data 8, and checks that the
 * original data is the one step 1 gave (an HSM answer for another challenge is refused).
 * @throws ProtocolError `PROTO_ERR_ISSUANCE_RESPONSE` on format or original-data mismatch.
 */
export function parseHsmKey(pKey: string, expectedOriginal: Uint8Array): { readonly authData: Uint8Array; readonly original: Uint8Array } {
  if (!/^[0-9A-Fa-f]{32}$/.test(pKey)) return bad('pKey is 32 hex digits', 'pKey');
  const b = fromHex(pKey);
  const original = b.slice(8);
  if (!original.every((x, i) => x === expectedOriginal[i])) return bad('original data differs from step 1', 'original');
  return { authData: b.slice(0, 8), original };
}
