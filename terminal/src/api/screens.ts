/**
 * The screens the terminal serves itself: the cardholder's kiosk at `/kiosk/` and the counter desk
 * at `/desk/`, static files from `terminal/web/{page}/` and the shared files of
 * `terminal/web/shared/` under `/{page}/shared/`, no build step. A screen answers only when its
 * config switch (`screens.kiosk`, `screens.desk`) is on, and only to a request that holds that
 * page's session (from `/session/start`) or the API token: the session of the kiosk does not open
 * the desk. The files hold no secret; every answer carries a strict Content-Security-Policy
 * (scripts and connections of the page's own origin only), `no-store` and `nosniff`.
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TerminalError } from '../errors.ts';
import { toHttpError } from './http-errors.ts';

/** The screens a terminal can serve. */
export const SCREEN_PAGES = ['kiosk', 'desk'] as const;
export type ScreenPage = (typeof SCREEN_PAGES)[number];

/**
 * Default directory of the screen files (`terminal/web`): found by walking up from this module,
 * which is `terminal/src/api/` from the sources or a bundle in the package's build cache
 * (`…/node_modules/.cache/onecard-terminal/…`, see bin/onecard-terminal.js).
 */
export const DEFAULT_SCREENS_ROOT = findScreensRoot(dirname(fileURLToPath(import.meta.url)));

function findScreensRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    for (const c of [join(dir, 'web'), join(dir, 'terminal', 'web')]) if (existsSync(join(c, 'kiosk', 'index.html'))) return c;
    if (dirname(dir) === dir) return join(from, '..', '..', 'web');
  }
}

const FILE = /^[a-z0-9][a-z0-9-]{0,63}\.(html|js|css|svg|json)$/;
const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  json: 'application/json; charset=utf-8',
};
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface ScreensOptions {
  /** The screens switched on. */
  readonly pages: readonly ScreenPage[];
  /** Directory holding `kiosk/`, `desk/` and `shared/` (default {@link DEFAULT_SCREENS_ROOT}). */
  readonly root?: string;
  /** How the request was let in (`app.ts`); `undefined` for none. */
  readonly authOf: (req: FastifyRequest) => { readonly kind: 'token' } | { readonly kind: 'session'; readonly page: string } | undefined;
}

/**
 * Adds the screen routes to the local API. Unknown files and switched-off screens answer 404
 * `TERM_ERR_API_BAD_REQUEST`; the session of another page 401 `TERM_ERR_API_SESSION`.
 */
export function registerScreens(app: FastifyInstance, o: ScreensOptions): void {
  const root = o.root ?? DEFAULT_SCREENS_ROOT;
  const enabled = new Set<string>(o.pages);
  const send = async (req: FastifyRequest, page: string, dir: string, file: string): Promise<{ type: string; body: Buffer }> => {
    if (!enabled.has(page)) throw new TerminalError('TERM_ERR_API_BAD_REQUEST', `screen ${page} is switched off (screens.${page} in the terminal file)`, { status: 404 });
    const a = o.authOf(req);
    if (a === undefined || (a.kind === 'session' && a.page !== page)) throw new TerminalError('TERM_ERR_API_SESSION', `no session of the ${page} screen`);
    if (!FILE.test(file)) throw new TerminalError('TERM_ERR_API_BAD_REQUEST', 'no such file', { status: 404 });
    let body: Buffer;
    try {
      body = await readFile(join(root, dir, file));
    } catch {
      throw new TerminalError('TERM_ERR_API_BAD_REQUEST', 'no such file', { status: 404 });
    }
    return { type: TYPES[file.slice(file.lastIndexOf('.') + 1)] ?? 'application/octet-stream', body };
  };
  for (const page of SCREEN_PAGES) {
    const reply = (dir: string, fileOf: (req: FastifyRequest) => string) => async (req: FastifyRequest, res: FastifyReply) => {
      let f: { type: string; body: Buffer };
      try {
        f = await send(req, page, dir, fileOf(req));
      } catch (e) {
        if (e instanceof TerminalError && e.details['status'] === 404) return res.code(404).send(toHttpError(e).body);
        throw e;
      }
      return res
        .header('content-security-policy', CSP)
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', 'no-store')
        .header('referrer-policy', 'no-referrer')
        .type(f.type)
        .send(f.body);
    };
    app.get(`/${page}`, { schema: { hide: true } }, async (_req, res) => res.redirect(`/${page}/`, 302));
    app.get(`/${page}/`, { schema: { hide: true } }, reply(page, () => 'index.html'));
    app.get<{ Params: { file: string } }>(`/${page}/:file`, { schema: { hide: true } }, reply(page, (req) => (req.params as { file: string }).file));
    app.get<{ Params: { file: string } }>(`/${page}/shared/:file`, { schema: { hide: true } }, reply('shared', (req) => (req.params as { file: string }).file));
  }
}
