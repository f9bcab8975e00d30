/**
 * Logging a cardholder in to a government portal from this terminal (issue 14, docs/login.md):
 * the portal's login page shows a short code; the holder types it here, inserts the card and
 * enters the PIN. {@link approveLogin} first asks the fleet server for that login (so no PIN try
 * is spent on a code that cannot succeed), then, in one card session, reads the card the way the
 * basic read does — internal authentication through the PSAM (the card is genuine), the local
 * hotlist, the validity dates — and verifies the PIN on the card; only then signs the assertion
 * with the terminal's identity key and sends it. The PIN goes to the card and nowhere else; the
 * holder's ID number and name go only into the signed assertion; logs carry the masked card
 * number and the portal's name.
 */
import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import { maskCardNumber } from '@onecard/protocol/ssc';
import type { CardAccess } from '../api/card-access.ts';
import type { LocalApiServices } from '../api/app.ts';
import type { Hotlist } from '../hotlist/index.ts';
import { TerminalError } from '../errors.ts';
import { signLoginAssertion, type AssertedCard } from './assertion.ts';
import { LOGIN_CODE, fleetLoginServer, type LoginServer, type PendingLogin } from './server.ts';

/** Signs an assertion for `card` bound to one login (the runtime closes over the identity key). */
export type LoginSigner = (a: { readonly login: string; readonly nonce: string; readonly card: AssertedCard; readonly nowMs: number }) => string;

/** What a card login needs: the server, the signer, the card path and the hotlist. */
export interface LoginDeps {
  readonly server: LoginServer;
  readonly sign: LoginSigner;
  readonly readers: CardAccess;
  readonly services: Pick<LocalApiServices, 'readBasicInfo' | 'verifyPin'>;
  readonly hotlist?: Hotlist | undefined;
  readonly logger?: Logger | undefined;
  readonly clock?: { now(): number };
}

/** The login page shows the code as `1234 5678`: spaces are removed [docs/login.md §3.1]. */
export function normaliseLoginCode(code: string): string {
  const c = code.replace(/\s+/g, '');
  if (!LOGIN_CODE.test(c)) throw new TerminalError('TERM_ERR_LOGIN_UNKNOWN', 'not a login code');
  return c;
}

/**
 * The portal waiting behind `code` and until when.
 * @throws TerminalError `TERM_ERR_LOGIN_UNKNOWN`, `TERM_ERR_LOGIN_REFUSED`, `TERM_ERR_LOGIN_OFFLINE`
 */
export async function lookupLogin(deps: Pick<LoginDeps, 'server'>, code: string): Promise<PendingLogin> {
  // The server decides expiry (its clock); the terminal's clock only shows the time left.
  return deps.server.lookup(normaliseLoginCode(code));
}

/**
 * Where the PIN comes from: typed on the page (a string in the request body) or read from a PIN pad
 * device once the login is known to be waiting (so the holder is not asked for a PIN in vain).
 */
export type LoginPin = string | (() => Promise<string>);

/**
 * Approves the login `code` with the card in the reader and its `pin`.
 * Resolves with the portal's name and the masked card number. Rejects with
 * `TERM_ERR_LOGIN_UNKNOWN` / `TERM_ERR_LOGIN_REFUSED` / `TERM_ERR_LOGIN_OFFLINE` (server),
 * `TERM_ERR_CARD_NOT_GENUINE`, `TERM_ERR_CARD_HOTLISTED`, `TERM_ERR_CARD_EXPIRED`,
 * `TERM_ERR_NO_PSAM`, `TERM_ERR_PIN_WRONG` (details.triesLeft), `TERM_ERR_PIN_LOCKED`,
 * `TERM_ERR_PIN_FORMAT`, `TERM_ERR_NO_CARD` and the other card-path codes.
 */
export async function approveLogin(deps: LoginDeps, code: string, pinSource: LoginPin): Promise<{ client: { name: string }; cardNumber: string }> {
  const login = normaliseLoginCode(code);
  const pending = await lookupLogin(deps, login);
  const pin = typeof pinSource === 'string' ? pinSource : await pinSource();
  const card = await deps.readers.withCard(async ({ card, psam }) => {
    // Genuine (PSAM internal authentication), not hotlisted, valid today — then the PIN on the card.
    const info = await deps.services.readBasicInfo({ card, psam, hotlist: deps.hotlist, logger: deps.logger, ...(deps.clock === undefined ? {} : { clock: deps.clock }) });
    await deps.services.verifyPin({ card, pin, hotlist: deps.hotlist, logger: deps.logger });
    return { cardNumber: info.cardNumber, idNumber: info.ssn, name: info.name };
  });
  const assertion = deps.sign({ login, nonce: pending.nonce, card, nowMs: deps.clock?.now() ?? Date.now() });
  await deps.server.submit(assertion);
  const cardNumber = maskCardNumber(card.cardNumber);
  deps.logger?.info({ client: pending.client.name, cardNumber }, 'card login approved');
  return { client: pending.client, cardNumber };
}

/**
 * The login link of an enrolled terminal: the fleet server called with the terminal's credentials
 * and assertions signed with its identity key (`kid` = terminal id).
 */
export function enrolledLogin(identity: { readonly terminalId: string; readonly serverUrl: string; readonly mqtt: { readonly password: string }; readonly privateKey: KeyObject }): { server: LoginServer; sign: LoginSigner } {
  return {
    server: fleetLoginServer({ serverUrl: identity.serverUrl, terminalId: identity.terminalId, password: identity.mqtt.password }),
    sign: (a) => signLoginAssertion({ privateKey: identity.privateKey, terminalId: identity.terminalId, ...a }),
  };
}
