/**
 * Read basic information of a 1.00 / 2.00 / 3.00 social security card in PSAM mode, in the order
 * of ssc-card.md §5.4 and SC-IF §10: SELECT SSSE (algorithm from the FCI) → EF05 items →
 * internal authentication through the PSAM (card genuine) → hotlist check → validity dates →
 * external authentication with RKSSSE on 3.0 cards → EF06 items → PSAM terminal number. The
 * result is typed data and the national `iReadCardBas` string (11 fields).
 */
import type { Logger } from 'pino';
import { toHex } from '@onecard/protocol/bytes';
import { NO_PSAM_TERMINAL_NUMBER, buildReadCardBas, checkSsn, decodeItemValue, decodeName, maskCardNumber } from '@onecard/protocol/ssc';
import type { CardChannel } from '../card/channel.ts';
import { TerminalError } from '../errors.ts';
import type { Hotlist } from '../hotlist/index.ts';
import { decode, localDate, systemClock, type Clock } from './common.ts';
import { psamTerminalNumber } from './psam.ts';
import { PSAM_KEYS, externalAuthentication, internalAuthentication, openSsse, readItem, selectEf, type CardProfile, type SsseSession } from './ssse.ts';

/** Inputs of {@link readBasicInfo}. */
export interface ReadBasicInfoOptions {
  readonly card: CardChannel;
  /** Without a PSAM the read is refused (`TERM_ERR_NO_PSAM`, national −2201) [SC-IF §10]. */
  readonly psam?: CardChannel | undefined;
  readonly hotlist?: Hotlist | undefined;
  readonly clock?: Clock;
  readonly logger?: Logger | undefined;
  readonly profile?: CardProfile;
  /** 终端设备号, vendor-defined (field 11); default empty. */
  readonly deviceNumber?: string;
  /** UTC offset of the validity check, minutes; default 480 (+08:00). */
  readonly utcOffsetMinutes?: number;
}

/** Basic information of a card, as typed data. */
export interface BasicInfo {
  /** Issuing region: first 6 digits of the card ID. */
  readonly regionCode: string;
  /** 卡识别码, 32 hex digits. */
  readonly cardId: string;
  readonly cardNumber: string;
  readonly ssn: string;
  /** `09` ‖ `4E`. */
  readonly name: string;
  /** `1` male, `2` female, `9` unspecified. */
  readonly sex: string;
  /** Ethnic group (民族), 2 digits. */
  readonly nation: string;
  /** Birthplace region code. */
  readonly birthplace: string;
  readonly birthDate: string;
  readonly issueDate: string;
  readonly expiryDate: string;
  readonly cardType: string;
  readonly initOrg: string;
  /** Item `03` as read, e.g. `3.00`. */
  readonly specVersion: string;
  readonly generation: '1.0' | '2.0' | '3.0';
  readonly algorithm: 'des' | 'sm4';
  /** ATR historical bytes, upper-case hex (卡复位信息). */
  readonly resetInfo: string;
  readonly terminalNumber: string;
  /** The national `iReadCardBas` output string. */
  readonly readCardBas: string;
}

/** Hotlist check on the card number and the card ID [P7 §5.4]. Rejects `TERM_ERR_CARD_HOTLISTED`. */
export function checkHotlist(hotlist: Hotlist | undefined, cardNumber: string, cardId?: string): void {
  if (hotlist === undefined) return;
  if (hotlist.has(cardNumber) || (cardId !== undefined && hotlist.has(cardId))) {
    throw new TerminalError('TERM_ERR_CARD_HOTLISTED', maskCardNumber(cardNumber), { hotlistVersion: hotlist.version });
  }
}

/**
 * Validity dates against the injected clock [P7 §5.4 terminal checks]: today after the expiry date
 * rejects `TERM_ERR_CARD_EXPIRED`, before the issue date `TERM_ERR_CARD_NOT_YET_VALID`; a date not
 * set on the card (`''`) is not checked.
 */
export function checkValidity(s: { readonly issueDate: string; readonly expiryDate: string }, clock: Clock, utcOffsetMinutes = 480): void {
  const today = localDate(clock.now(), utcOffsetMinutes);
  if (s.expiryDate !== '' && today > s.expiryDate) throw new TerminalError('TERM_ERR_CARD_EXPIRED', `expired ${s.expiryDate}`, { expiryDate: s.expiryDate, today });
  if (s.issueDate !== '' && today < s.issueDate) throw new TerminalError('TERM_ERR_CARD_NOT_YET_VALID', `issued ${s.issueDate}`, { issueDate: s.issueDate, today });
}

/**
 * Reads the basic information [ssc-card §5.4; SC-IF §10]. Rejects with `TerminalError`:
 * `TERM_ERR_NO_PSAM`, `TERM_ERR_WRONG_CARD_TYPE`, `TERM_ERR_CARD_NOT_GENUINE`,
 * `TERM_ERR_CARD_HOTLISTED`, `TERM_ERR_CARD_EXPIRED`, `TERM_ERR_CARD_NOT_YET_VALID`,
 * `TERM_ERR_EXTERNAL_AUTH_FAILED`, `TERM_ERR_PSAM_NO_ALGORITHM`, `TERM_ERR_PSAM_NO_RKSSSE`,
 * `TERM_ERR_PSAM_KEY_LEVEL`, `TERM_ERR_CARD_STATUS`, `TERM_ERR_PSAM_STATUS`, `TERM_ERR_CARD_DATA`
 * (also for a card number or citizen-ID SSN whose check character is wrong: `details.field` is
 * `cardNumber` / `ssn`, the protocol's `PROTO_ERR_SSC_*_CHECK` is the cause), and the channel's codes (`TERM_ERR_CARD_REMOVED`, …).
 */
export async function readBasicInfo(opts: ReadBasicInfoOptions): Promise<BasicInfo> {
  const { card, psam, logger } = opts;
  const profile = opts.profile ?? {};
  if (psam === undefined) throw new TerminalError('TERM_ERR_NO_PSAM', 'basic read needs a PSAM');
  const s = await openSsse(card, profile, logger);
  await internalAuthentication(card, psam, s, logger);
  checkHotlist(opts.hotlist, s.cardNumber, s.cardId.hex);
  checkValidity(s, opts.clock ?? systemClock, opts.utcOffsetMinutes);
  if (s.generation === '3.0') {
    // [SC-IF §10.2] 3.0 cards: external authentication with RKSSSE (card key 0A) before EF06.
    await externalAuthentication(card, psam, s, { cardKeyId: 0x0a, psamKeyId: PSAM_KEYS.RKSSSE.keyId, keyType: PSAM_KEYS.RKSSSE.keyType, missing: 'TERM_ERR_PSAM_NO_RKSSSE' }, logger);
  }
  const holder = await readHolder(card, s, profile, logger);
  const terminalNumber = psam === undefined ? NO_PSAM_TERMINAL_NUMBER : await psamTerminalNumber(psam, logger);
  const resetInfo = toHex(s.historicalBytes).toUpperCase();
  const readCardBas = decode('iReadCardBas', () => buildReadCardBas({
    regionCode: s.cardId.regionCode, ssn: holder.ssn, cardNumber: s.cardNumber, cardId: s.cardId.hex.toUpperCase(),
    name: holder.name, resetInfo, specVersion: s.specVersion, issueDate: s.issueDate, expiryDate: s.expiryDate,
    terminalNumber, deviceNumber: opts.deviceNumber ?? '',
  }));
  logger?.info({ card: { cardNumber: s.cardNumber, generation: s.generation } }, 'basic information read');
  return {
    regionCode: s.cardId.regionCode, cardId: s.cardId.hex.toUpperCase(), cardNumber: s.cardNumber, ...holder,
    issueDate: s.issueDate, expiryDate: s.expiryDate, cardType: s.cardType, initOrg: s.initOrg, specVersion: s.specVersion,
    generation: s.generation, algorithm: s.family, resetInfo, terminalNumber, readCardBas,
  };
}

interface Holder {
  readonly ssn: string;
  readonly name: string;
  readonly sex: string;
  readonly nation: string;
  readonly birthplace: string;
  readonly birthDate: string;
}

/** EF06 items `08`, `09`, `4E` (optional [CODE SSCARD]), `0A`–`0D` [ssc-card §5.4 step 5]. */
async function readHolder(card: CardChannel, s: SsseSession, profile: CardProfile, logger?: Logger): Promise<Holder> {
  await selectEf(card, 0xef06, profile, logger);
  const text = async (tag: number): Promise<string> => {
    const v = await readItem(card, tag, logger);
    return v === undefined ? '' : decode(`item ${tag.toString(16).padStart(2, '0')}`, () => decodeItemValue(tag, v));
  };
  // [GB 11643; ssc-card §3.3] a citizen-ID-shaped SSN must carry its check character; `x` becomes `X`.
  const rawSsn = await text(0x08);
  const ssn = decode('social security number', () => checkSsn(rawSsn));
  const nameBytes = await readItem(card, 0x09, logger);
  // [SC-IF §1.1.3(7)] 2.0/3.0 readers return 09 ‖ 4E; 4E may be missing on 2.0 cards.
  const ext = s.generation === '1.0' ? undefined : await readItem(card, 0x4e, logger);
  const name = nameBytes === undefined ? '' : decode('name', () => decodeName(nameBytes, ext));
  return { ssn, name, sex: await text(0x0a), nation: await text(0x0b), birthplace: await text(0x0c), birthDate: await text(0x0d) };
}
