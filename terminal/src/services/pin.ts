/**
 * PIN services of the social security card [ssc-card §11, §7.9; SC-IF §4.5]: status probe (empty
 * VERIFY), VERIFY with the tries left reported, CHANGE PIN by the holder (`80 5E`), and the
 * issuer's unblock (`84 24 00 00`) and reload (`84 24 00 01`) through the PSAM: external
 * authentication with the PUK (card key `06`), a fresh card challenge, the PIN block encrypted and
 * the command MACed under the STK session key. PINs never reach a log or an error.
 */
import type { Logger } from 'pino';
import {
  changePin as changePinCmd, getChallenge, parseChallenge, pinBlockPlaintext, pinReload, pinUnblock,
  secureMessagingMacInput, selectSsse, tryCounterStatus, verifyPin as verifyPinCmd,
} from '@onecard/protocol/ssc';
import type { ResponseApdu } from '@onecard/protocol/iso7816';
import type { CardChannel } from '../card/channel.ts';
import { TerminalError } from '../errors.ts';
import type { Hotlist } from '../hotlist/index.ts';
import { checkHotlist } from './basic-info.ts';
import { decode, expectOk, send, statusError } from './common.ts';
import { deliverSessionKey, familyBlockSize, psamEncrypt, psamMac, selectPsamEnvironment } from './psam.ts';
import { PSAM_KEYS, externalAuthentication, openSsse, type CardProfile } from './ssse.ts';

/** Options shared by the PIN services. */
export interface PinContext {
  readonly card: CardChannel;
  /** Checked on the card number when given (reads EF05 first). */
  readonly hotlist?: Hotlist | undefined;
  readonly logger?: Logger | undefined;
  readonly profile?: CardProfile;
}

/** PIN state from the empty VERIFY probe. */
export interface PinStatus {
  /** Whether a PIN is set. */
  readonly set: boolean;
  readonly locked: boolean;
  /** Tries left when the card says (`63Cx`). */
  readonly triesLeft?: number;
}

function checkFormat(...pins: string[]): void {
  // [SC-IF §4.1.3] 4–16 digits; the PIN itself never goes into the error.
  for (const p of pins) if (!/^[0-9]{4,16}$/.test(p)) throw new TerminalError('TERM_ERR_PIN_FORMAT');
}

async function enter(ctx: PinContext): Promise<void> {
  if (ctx.hotlist !== undefined) {
    const s = await openSsse(ctx.card, ctx.profile ?? {}, ctx.logger);
    checkHotlist(ctx.hotlist, s.cardNumber, s.cardId.hex);
    return;
  }
  const r = await send(ctx.card, selectSsse(), 'card', ctx.logger);
  if (r.sw === 0x6a82) throw new TerminalError('TERM_ERR_WRONG_CARD_TYPE', 'no social security environment', { sw: r.sw });
  expectOk(r, 'card', 'SELECT SSSE');
}

/** `63Cx` → `TERM_ERR_PIN_WRONG` {triesLeft}, `63C0`/`6983` → `TERM_ERR_PIN_LOCKED`, other → card status [P5 §6.14]. */
function pinOutcome(r: ResponseApdu, step: string): void {
  const s = tryCounterStatus(r.sw);
  if (s.kind === 'ok') return;
  if (s.kind === 'locked') throw new TerminalError('TERM_ERR_PIN_LOCKED', step, { sw: r.sw, triesLeft: 0 });
  if (s.kind === 'wrong') throw new TerminalError('TERM_ERR_PIN_WRONG', undefined, { sw: r.sw, triesLeft: s.triesLeft });
  throw statusError(r.sw, 'card', step);
}

/**
 * Empty VERIFY probe (the counter is unchanged): `9000` no PIN, `63Cx` PIN set with x tries,
 * `6983` locked [ssc-card §11]. Rejects `TERM_ERR_CARD_STATUS` on another SW.
 */
export async function pinStatus(ctx: PinContext): Promise<PinStatus> {
  await enter(ctx);
  const r = await send(ctx.card, verifyPinCmd(), 'card', ctx.logger);
  const s = tryCounterStatus(r.sw);
  if (s.kind === 'ok') return { set: false, locked: false };
  if (s.kind === 'locked') return { set: true, locked: true, triesLeft: 0 };
  if (s.kind === 'wrong') return { set: true, locked: false, triesLeft: s.triesLeft };
  throw statusError(r.sw, 'card', 'VERIFY (probe)');
}

/**
 * VERIFY `00 20` [P5 §6.14]. Resolves on success; rejects `TERM_ERR_PIN_WRONG` (details.triesLeft),
 * `TERM_ERR_PIN_LOCKED`, `TERM_ERR_PIN_FORMAT`, `TERM_ERR_CARD_HOTLISTED`, `TERM_ERR_CARD_STATUS`.
 */
export async function verifyPin(ctx: PinContext & { readonly pin: string }): Promise<void> {
  checkFormat(ctx.pin);
  await enter(ctx);
  pinOutcome(await send(ctx.card, verifyPinCmd(ctx.pin), 'card', ctx.logger), 'VERIFY');
}

/**
 * CHANGE PIN by the holder `80 5E 01 00` old ‖ FF ‖ new [P5 §6.3]. Rejects as {@link verifyPin}.
 */
export async function changePin(ctx: PinContext & { readonly oldPin: string; readonly newPin: string }): Promise<void> {
  checkFormat(ctx.oldPin, ctx.newPin);
  await enter(ctx);
  pinOutcome(await send(ctx.card, changePinCmd(ctx.oldPin, ctx.newPin), 'card', ctx.logger), 'CHANGE PIN');
}

/** Options of the PSAM-backed PIN services. */
export interface IssuerPinContext extends PinContext {
  readonly psam?: CardChannel | undefined;
}

/**
 * Issuer PIN unblock: resets the try counter, the PIN stays [P5 §6.8; P7 §13; ssc-card §7.9].
 * Rejects `TERM_ERR_NO_PSAM`, `TERM_ERR_EXTERNAL_AUTH_FAILED`, `TERM_ERR_CARD_STATUS` (e.g. `6988`),
 * `TERM_ERR_PSAM_*`, `TERM_ERR_CARD_HOTLISTED`.
 */
export async function unblockPin(ctx: IssuerPinContext): Promise<{ readonly cardNumber: string }> {
  return issuerPinCommand(ctx, undefined);
}

/**
 * Issuer PIN reload: sets `newPin` and resets the counter [P5 §6.8; ssc-card §7.9]. Rejects as
 * {@link unblockPin}, plus `TERM_ERR_PIN_FORMAT`.
 */
export async function reloadPin(ctx: IssuerPinContext & { readonly newPin: string }): Promise<{ readonly cardNumber: string }> {
  checkFormat(ctx.newPin);
  return issuerPinCommand(ctx, ctx.newPin);
}

/** Runs the issuer command; answers the card number (the desk's audit names the card, never the PIN). */
async function issuerPinCommand(ctx: IssuerPinContext, newPin: string | undefined): Promise<{ readonly cardNumber: string }> {
  const { card, psam, logger } = ctx;
  if (psam === undefined) throw new TerminalError('TERM_ERR_NO_PSAM', 'PIN unblock/reload needs a PSAM');
  const s = await openSsse(card, ctx.profile ?? {}, logger);
  checkHotlist(ctx.hotlist, s.cardNumber, s.cardId.hex);
  // [ssc-card §7.9 step 1] external authentication with the PUK (card key 06).
  await externalAuthentication(card, psam, s, { cardKeyId: 0x06, psamKeyId: PSAM_KEYS.PUK.keyId, keyType: PSAM_KEYS.PUK.keyType, missing: 'TERM_ERR_PSAM_KEY_LEVEL' }, logger);
  // [ssc-card §7.9 step 2] a fresh challenge keys the secure messaging.
  const cr = expectOk(await send(card, getChallenge(8), 'card', logger), 'card', 'GET CHALLENGE');
  const c = decode('card challenge', () => parseChallenge(cr.data, 8));
  const bs = familyBlockSize(s.family);
  await selectPsamEnvironment(psam, s.family, logger);
  const sk = { family: s.family, ...PSAM_KEYS.STK, factors: s.factors, random: c, missing: 'TERM_ERR_PSAM_KEY_LEVEL' } as const;
  let cryptogram: Uint8Array = new Uint8Array(0);
  if (newPin !== undefined) {
    await deliverSessionKey(psam, sk, logger);
    cryptogram = await psamEncrypt(psam, s.family, pinBlockPlaintext(newPin, bs), logger);
  }
  // [ssc-card §7.9 PSAM mode step 3] the PSAM keeps a session key for one computation only.
  await deliverSessionKey(psam, sk, logger);
  const header = { cla: 0x84, ins: 0x24, p1: 0x00, p2: newPin === undefined ? 0x00 : 0x01 };
  const mac = await psamMac(psam, s.family, secureMessagingMacInput(header, cryptogram, bs), logger);
  const cmd = newPin === undefined ? pinUnblock(mac) : pinReload(cryptogram, mac);
  const r = await send(card, cmd, 'card', logger);
  expectOk(r, 'card', newPin === undefined ? 'PIN UNBLOCK' : 'PIN RELOAD');
  return { cardNumber: s.cardNumber };
}
