// The screens' only way to the terminal: the local API of the origin that served the page, with
// the page session cookie (HttpOnly; scripts never see it). No token or secret lives here.

/** A failed call: `code` is the TERM_ERR_* code, `details` e.g. {triesLeft}. */
export class ApiError extends Error {
  constructor(code, message, details, status) {
    super(message);
    this.code = code;
    this.details = details ?? {};
    this.status = status;
  }
}

/** POST (with a JSON body) or GET `path`; resolves to the JSON answer or throws {@link ApiError}. */
export async function call(path, body) {
  let res;
  try {
    res = await fetch(path, body === undefined
      ? { credentials: 'same-origin', cache: 'no-store' }
      : { method: 'POST', credentials: 'same-origin', cache: 'no-store', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  } catch {
    throw new ApiError('TERM_ERR_RUNTIME_CLOSED', 'terminal unreachable', {}, 0);
  }
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = json?.error ?? {};
    throw new ApiError(typeof e.code === 'string' ? e.code : 'TERM_ERR_API_INTERNAL', String(e.message ?? res.status), e.details, res.status);
  }
  return json;
}

/**
 * Opens the live event stream (card inserted/removed, reader status). `onEvent(msg)` gets each
 * message; `onClosed()` runs once when the stream ends (session ended, terminal restarting).
 */
export function openEvents(onEvent, onClosed) {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/events`);
  ws.addEventListener('message', (m) => {
    try {
      onEvent(JSON.parse(String(m.data)));
    } catch {
      /* a malformed message is ignored */
    }
  });
  let closed = false;
  const done = () => {
    if (!closed) {
      closed = true;
      onClosed();
    }
  };
  ws.addEventListener('close', done);
  ws.addEventListener('error', done);
  return ws;
}
