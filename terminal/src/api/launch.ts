/**
 * Launcher side of page sessions: whoever holds the API token (the systemd unit that starts the
 * kiosk browser, `npm start`, a browser test) asks the running API for a single-use launch URL of
 * one page and hands it to the browser. The token never reaches the page.
 */
import { TerminalError } from '../errors.ts';
import { PAGE_NAME } from './sessions.ts';

/**
 * Absolute URL that starts a `page` session when opened in the browser within its lifetime
 * (60 s by default), e.g. `http://127.0.0.1:8930/session/start?code=…`.
 * @throws TerminalError `TERM_ERR_INVALID_ARGUMENT` (page name), `TERM_ERR_API_TOKEN` (refused),
 *   `TERM_ERR_API_INTERNAL` (unexpected answer or unreachable API)
 */
export async function requestPageLaunchUrl(o: { readonly apiUrl: string; readonly token: string; readonly page: string; readonly fetch?: typeof fetch }): Promise<string> {
  if (!PAGE_NAME.test(o.page)) throw new TerminalError('TERM_ERR_INVALID_ARGUMENT', `page name ${JSON.stringify(o.page)}`, { field: 'page' });
  const f = o.fetch ?? fetch;
  let res: Response;
  try {
    res = await f(new URL('/v1/session/launch', o.apiUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-onecard-token': o.token },
      body: JSON.stringify({ page: o.page }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (cause) {
    throw new TerminalError('TERM_ERR_API_INTERNAL', `local API at ${o.apiUrl} unreachable`, {}, { cause });
  }
  if (res.status === 401) throw new TerminalError('TERM_ERR_API_TOKEN');
  const body = (await res.json().catch(() => ({}))) as { path?: unknown };
  if (res.status !== 200 || typeof body.path !== 'string' || !body.path.startsWith('/session/start?code=')) {
    throw new TerminalError('TERM_ERR_API_INTERNAL', `launch answered HTTP ${res.status}`, { status: res.status });
  }
  return new URL(body.path, o.apiUrl).href;
}
