/**
 * Card maintenance at the desk [issuance §1 "Maintenance", §2.1; issue 20]: information change
 * (信息变更: EF06 holder items rewritten with UPDATE RECORD after UKSSSE authentication, then read
 * back and compared) and APPLICATION BLOCK of a cancelled card (permanent: the caller must pass
 * {@link BLOCK_CONFIRMATION}). Both run on an issued card in the desk's reader with the PSAM (card
 * channels of one card session, e.g. from `CardAccess.withCard`), reusing the terminal's card
 * services (SSSE opening, internal and external authentication, PSAM MAC).
 * Which key authorises the block (BK assumed) and which MACs it (STK assumed) is an open question
 * [issuance §11 item 3].
 */
import type { Logger } from 'pino';
import { concat } from '@onecard/protocol/bytes';
import { applicationBlock, getChallenge, readRecordByTag, parseChallenge, secureMessagingMacInput, selectSsse, type SscBasicData } from '@onecard/protocol/ssc';
import { compareReadBack, recordWrites } from '@onecard/protocol/issuance';
import { TerminalError } from '../errors.ts';
import { familyBlockSize, deliverSessionKey, psamMac, selectPsamEnvironment } from '../services/psam.ts';
import { PSAM_KEYS, externalAuthentication, internalAuthentication, openSsse, type CardProfile, type SsseSession } from '../services/ssse.ts';
import type { CardChannel } from '../card/channel.ts';

/** The words a member of staff confirms an APPLICATION BLOCK with (it cannot be undone). */
export const BLOCK_CONFIRMATION = 'BLOCK-PERMANENTLY';

/** Holder items an information change may rewrite (EF06); issuer items (EF05) are not changed here. */
export type HolderChange = Partial<Pick<SscBasicData, 'ssn' | 'name' | 'sex' | 'ethnicGroup' | 'birthplace' | 'birthDate'>>;

export interface MaintenanceContext {
  readonly card: CardChannel;
  readonly psam: CardChannel;
  readonly logger?: Logger;
  readonly profile?: CardProfile;
}

/** UKSSSE and BK through the PSAM [issuance §3; KEY-IDX]. */
const UKSSSE = { cardKeyId: 0x04, psamKeyId: 0x12, keyType: 8, missing: 'TERM_ERR_PSAM_KEY_LEVEL' } as const;
const BK = { cardKeyId: 0x05, psamKeyId: 0x11, keyType: 8, missing: 'TERM_ERR_PSAM_KEY_LEVEL' } as const;
const RKSSSE = { cardKeyId: 0x0a, psamKeyId: PSAM_KEYS.RKSSSE.keyId, keyType: PSAM_KEYS.RKSSSE.keyType, missing: 'TERM_ERR_PSAM_KEY_LEVEL' } as const;

async function open(ctx: MaintenanceContext): Promise<{ card: CardChannel; psam: CardChannel; s: SsseSession }> {
  const { card, psam } = ctx;
  const s = await openSsse(card, ctx.profile ?? {}, ctx.logger);
  await internalAuthentication(card, psam, s, ctx.logger);
  return { card, psam, s };
}

/**
 * Rewrites the given EF06 items and reads them back.
 * @returns the card number and the tags written.
 * @throws TerminalError `TERM_ERR_INVALID_ARGUMENT` when nothing is to change,
 *   `TERM_ERR_ISSUANCE_CARD` on a refused write, `TERM_ERR_ISSUANCE_READBACK` when the card does not
 *   hold the new values, and the card services' codes (`TERM_ERR_CARD_NOT_GENUINE`,
 *   `TERM_ERR_EXTERNAL_AUTH_FAILED`, …); the item codecs' `PROTO_ERR_SSC_*` on invalid values.
 */
export async function changeHolderInformation(ctx: MaintenanceContext, change: HolderChange): Promise<{ readonly cardNumber: string; readonly tags: readonly number[] }> {
  const writes = recordWrites(change, ['EF06']);
  if (writes.length === 0) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', 'no holder item to change');
  const { card, psam, s } = await open(ctx);
  await externalAuthentication(card, psam, s, UKSSSE, ctx.logger);
  for (const w of writes) {
    const r = await card.transmit(w.apdu);
    if (r.sw !== 0x9000) throw new TerminalError('TERM_ERR_ISSUANCE_CARD', `SW ${r.sw.toString(16).toUpperCase().padStart(4, '0')} at write${w.tag.toString(16)}`, { sw: r.sw, step: `write${w.tag.toString(16)}` });
  }
  // [ssc-card §6] EF06 reads need RKSSSE on 3.0 cards.
  if (s.generation === '3.0') await externalAuthentication(card, psam, s, RKSSSE, ctx.logger);
  const parts: Uint8Array[] = [];
  for (const w of writes) {
    const r = await card.transmit(readRecordByTag(w.tag, { sfi: 0x06 }));
    if (r.sw === 0x9000) parts.push(r.data);
  }
  const mism = compareReadBack(writes, concat(...parts));
  if (mism.length > 0) throw new TerminalError('TERM_ERR_ISSUANCE_READBACK', undefined, { tags: mism.map((m) => m.tag.toString(16)).join(',') });
  ctx.logger?.info({ tags: writes.map((w) => w.tag.toString(16)) }, 'holder information changed');
  return { cardNumber: s.cardNumber, tags: writes.map((w) => w.tag) };
}

/**
 * APPLICATION BLOCK `84 1E 00 01 04 MAC` of the SSSE [P5 §6.1; P7 §13.2]: BK external
 * authentication, a fresh card challenge, the MAC with the STK session key of that challenge from
 * the PSAM; then SELECT SSSE must answer `9303`. Permanent: there is no SSSE unblock [issuance §2.1].
 * @throws TerminalError `TERM_ERR_INVALID_ARGUMENT` without the confirmation words,
 *   `TERM_ERR_ISSUANCE_CARD` when the card refuses or still answers after the block, and the card
 *   services' codes.
 */
export async function blockApplication(ctx: MaintenanceContext, confirmation: string): Promise<{ readonly cardNumber: string }> {
  if (confirmation !== BLOCK_CONFIRMATION) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', `APPLICATION BLOCK is permanent: confirm with ${BLOCK_CONFIRMATION}`, { field: 'confirmation' });
  const { card, psam, s } = await open(ctx);
  await externalAuthentication(card, psam, s, BK, ctx.logger);
  const cr = await card.transmit(getChallenge(8));
  if (cr.sw !== 0x9000) throw new TerminalError('TERM_ERR_ISSUANCE_CARD', `SW ${cr.sw.toString(16).toUpperCase().padStart(4, '0')} at GET CHALLENGE`, { sw: cr.sw, step: 'challenge' });
  const c = parseChallenge(cr.data, 8);
  await selectPsamEnvironment(psam, s.family, ctx.logger);
  await deliverSessionKey(psam, { family: s.family, ...PSAM_KEYS.STK, factors: s.factors, random: c, missing: 'TERM_ERR_PSAM_KEY_LEVEL' }, ctx.logger);
  const mac = await psamMac(psam, s.family, secureMessagingMacInput({ cla: 0x84, ins: 0x1e, p1: 0x00, p2: 0x01 }, new Uint8Array(0), familyBlockSize(s.family)), ctx.logger);
  const r = await card.transmit(applicationBlock(mac));
  if (r.sw !== 0x9000) throw new TerminalError('TERM_ERR_ISSUANCE_CARD', `SW ${r.sw.toString(16).toUpperCase().padStart(4, '0')} at APPLICATION BLOCK`, { sw: r.sw, step: 'applicationBlock' });
  const check = await card.transmit(selectSsse());
  if (check.sw !== 0x9303) throw new TerminalError('TERM_ERR_ISSUANCE_CARD', 'the card still answers after APPLICATION BLOCK', { sw: check.sw, step: 'verifyBlock' });
  ctx.logger?.warn({ cardNumber: s.cardNumber }, 'social security application blocked');
  return { cardNumber: s.cardNumber };
}
