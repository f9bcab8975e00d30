/**
 * Local API routes of "log in to a service" (docs/login.md, docs/local-api.md): the kiosk or the
 * desk looks up the short code a portal's login page shows (`POST /v1/login/lookup`) to show the
 * holder which portal asks, then approves it with the card in the reader and its PIN
 * (`POST /v1/login/approve`, or `POST /v1/login/pinpad/approve` with the PIN typed on the box's
 * PIN pad): genuine card, hotlist, PIN on the card, then the assertion signed with the terminal's
 * key goes to the fleet server. Open to the kiosk's page session, to the
 * desk's with a signed-in member of staff (the staff gate of `staff.ts`) and to token holders,
 * like the other card services. The PIN travels in the request body only (never logged); the
 * answers carry the portal's name and the card number masked, never the holder's data.
 */
import type { FastifyInstance } from 'fastify';
import { TerminalError } from '../errors.ts';
import { approveLogin, lookupLogin, type LoginServer, type LoginSigner } from '../login/index.ts';
import type { LocalApiOptions, LocalApiServices } from './app.ts';
import { readPadPin } from './pad-pin.ts';

/** What the runtime gives the API for card logins (a fleet member's server link and identity key). */
export interface LocalApiLogin {
  readonly server: LoginServer;
  readonly sign: LoginSigner;
}

const errorSchema = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, national: { type: 'integer' }, details: { type: 'object', additionalProperties: true } }, required: ['code', 'message', 'national'] } },
} as const;
const errors = { '4xx': errorSchema, '5xx': errorSchema } as const;
/** The 8-digit login code, spaces allowed as the login page groups it (`1234 5678`). */
const codeSchema = { type: 'string', pattern: '^[0-9 ]{8,16}$' } as const;
const pinSchema = { type: 'string', pattern: '^[0-9]{4,16}$' } as const;

/** Registers `/v1/login/*` on `app` (called by `buildLocalApi`). */
export function registerLogin(app: FastifyInstance, opts: LocalApiOptions, services: LocalApiServices): void {
  const deps = (): LocalApiLogin => {
    if (opts.login === undefined) throw new TerminalError('TERM_ERR_API_NOT_CONFIGURED', 'card login needs an enrolled terminal (fleet identity)');
    return opts.login;
  };
  const clock = opts.clock === undefined ? {} : { clock: opts.clock };

  app.post<{ Body: { code: string } }>('/v1/login/lookup', {
    schema: {
      summary: 'Which portal waits behind a login code shown on its login page',
      description: 'Asks the fleet server (login needs it: 503 TERM_ERR_LOGIN_OFFLINE when unreachable). Unknown, used or expired code: 404 TERM_ERR_LOGIN_UNKNOWN.',
      tags: ['login'],
      body: { type: 'object', properties: { code: codeSchema }, required: ['code'], additionalProperties: false },
      response: { 200: { type: 'object', properties: { client: { type: 'object', properties: { name: { type: 'string' } } }, expiresInSeconds: { type: 'integer' } } }, ...errors },
    },
  }, async (req) => {
    const p = await lookupLogin({ server: deps().server }, req.body.code);
    const now = opts.clock?.now() ?? Date.now();
    return { client: { name: p.client.name }, expiresInSeconds: Math.max(1, Math.floor((p.expiresAt - now) / 1000)) };
  });

  app.post<{ Body: { code: string; pin: string } }>('/v1/login/approve', {
    schema: {
      summary: 'Log the holder of the card in the reader in to the portal waiting behind a login code',
      description: 'Checks the login with the fleet server, then in one card session: internal authentication through the PSAM (genuine), hotlist, validity, PIN verified on the card; then signs the login assertion with the terminal key and sends it. Wrong PIN: 422 TERM_ERR_PIN_WRONG with details.triesLeft; locked: TERM_ERR_PIN_LOCKED; hotlisted: TERM_ERR_CARD_HOTLISTED; not genuine: TERM_ERR_CARD_NOT_GENUINE; server unreachable: 503 TERM_ERR_LOGIN_OFFLINE; refused: 403 TERM_ERR_LOGIN_REFUSED. The PIN goes to the card only.',
      tags: ['login'],
      body: { type: 'object', properties: { code: codeSchema, pin: pinSchema }, required: ['code', 'pin'], additionalProperties: false },
      response: { 200: { type: 'object', properties: { ok: { type: 'boolean' }, client: { type: 'object', properties: { name: { type: 'string' } } }, cardNumber: { type: 'string' } } }, ...errors },
    },
  }, async (req) => {
    const d = deps();
    const r = await approveLogin({
      server: d.server, sign: d.sign, readers: opts.readers, services, hotlist: opts.hotlist, logger: opts.logger, ...clock,
    }, req.body.code, req.body.pin);
    return { ok: true, client: { name: r.client.name }, cardNumber: r.cardNumber };
  });

  app.post<{ Body: { code: string } }>('/v1/login/pinpad/approve', {
    schema: {
      summary: 'As /v1/login/approve, the PIN typed on the PIN pad (it never passes through the caller)',
      description: 'The pad is prompted only once the server confirmed the login waits and the card’s PIN is not locked; progress on the WebSocket (`pinpad` counts). Taking the card out or the page going away ends the entry. Errors as /v1/login/approve plus TERM_ERR_PINPAD_*; 501 without a PIN pad.',
      tags: ['login', 'pinpad'],
      body: { type: 'object', properties: { code: codeSchema }, required: ['code'], additionalProperties: false },
      response: { 200: { type: 'object', properties: { ok: { type: 'boolean' }, client: { type: 'object', properties: { name: { type: 'string' } } }, cardNumber: { type: 'string' } } }, ...errors },
    },
  }, async (req, reply) => {
    const d = deps();
    const pad = opts.pinpad;
    if (pad === undefined) throw new TerminalError('TERM_ERR_API_NOT_CONFIGURED', 'no PIN pad (pinpad in the terminal file)');
    const fromPad = async (): Promise<string> => {
      const st = await opts.readers.withCard(({ card }) => services.pinStatus({ card, hotlist: opts.hotlist, logger: opts.logger }));
      if (st.locked) throw new TerminalError('TERM_ERR_PIN_LOCKED');
      return readPadPin(pad, opts, reply.raw);
    };
    const r = await approveLogin({
      server: d.server, sign: d.sign, readers: opts.readers, services, hotlist: opts.hotlist, logger: opts.logger, ...clock,
    }, req.body.code, fromPad);
    return { ok: true, client: { name: r.client.name }, cardNumber: r.cardNumber };
  });
}

