// The dashboard's view of the fleet server's REST API: the admin token kept in sessionStorage,
// a fetch wrapper that sends it as a bearer token and turns `{error:{code,message}}` answers into
// ApiError, and the capability check: which endpoints this server has, read once from its OpenAPI
// document, so pages for features the server lacks say so instead of calling missing routes.

const TOKEN_KEY = 'onecard.dashboard.token';
const ROLE_KEY = 'onecard.dashboard.role';
const NAME_KEY = 'onecard.dashboard.name';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  get role() { return sessionStorage.getItem(ROLE_KEY); },
  get name() { return sessionStorage.getItem(NAME_KEY); },
  save(token, role, name) {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(ROLE_KEY, role);
    sessionStorage.setItem(NAME_KEY, name ?? '');
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(ROLE_KEY);
    sessionStorage.removeItem(NAME_KEY);
  },
};

/** What each role may do in the dashboard (the server enforces the same rules). */
export function can(action, role = session.role) {
  if (role === 'admin') return true;
  switch (action) {
    case 'operate': return role === 'operator';
    case 'keys': return role === 'key-custodian';
    case 'view': return role === 'viewer' || role === 'operator' || role === 'key-custodian';
    default: return false;
  }
}

/** Feature endpoints the pages call (OpenAPI paths; see docs/updates.md and docs/keys.md). */
export const ENDPOINTS = {
  rollouts: '/api/v1/updates/rollouts',
  rollout: (id) => `/api/v1/updates/rollouts/${encodeURIComponent(id)}`,
  packages: '/api/v1/updates/packages',
  keySets: '/api/v1/key-sets',
  keyJobs: '/api/v1/key-jobs',
};

let onUnauthenticated = () => {};
export function setUnauthenticatedHandler(fn) { onUnauthenticated = fn; }

/** Calls the API; returns parsed JSON (or text for non-JSON answers, `null` for 204). */
export async function api(method, path, body, extraHeaders = {}) {
  const headers = { accept: 'application/json', ...extraHeaders };
  const token = session.token;
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  if (res.status === 204) return null;
  const type = res.headers.get('content-type') ?? '';
  const data = type.includes('json') ? await res.json().catch(() => null) : await res.text();
  if (!res.ok) {
    const err = data && typeof data === 'object' && data.error ? data.error : { code: `HTTP_${res.status}`, message: res.statusText };
    if (res.status === 401 && token && session.role) onUnauthenticated();
    throw new ApiError(res.status, err.code, err.message);
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});
export const put = (path, body, headers) => api('PUT', path, body, headers);
export const del = (path) => api('DELETE', path);

/** `?a=1&b=x` from an object, skipping empty values. */
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s === '' ? '' : `?${s}`;
}

let capabilities;
/**
 * The server's routes as a set of `METHOD /path/{param}` strings from its OpenAPI document, or
 * `null` when the document cannot be read (then every page simply tries its endpoints).
 */
export function loadCapabilities() {
  capabilities ??= fetch('/docs/json', { cache: 'no-store' })
    .then((r) => (r.ok ? r.json() : null))
    .then((doc) => {
      if (!doc || typeof doc.paths !== 'object') return null;
      const set = new Set();
      for (const [p, ops] of Object.entries(doc.paths)) for (const m of Object.keys(ops)) set.add(`${m.toUpperCase()} ${p}`);
      return set;
    })
    .catch(() => null);
  return capabilities;
}

/** Whether the server has `METHOD path` (path with `{param}` placeholders as OpenAPI writes them). */
export async function has(method, path) {
  const caps = await loadCapabilities();
  return caps === null ? true : caps.has(`${method} ${path}`);
}

/** Forget the cached capabilities (after a server upgrade, on re-login). */
export function resetCapabilities() { capabilities = undefined; }

/**
 * GET that treats a missing route as "not available": returns `undefined` when the server does
 * not list the route, or answers 404 for it.
 */
export async function getOptional(method, openapiPath, url) {
  if (!(await has(method, openapiPath))) return undefined;
  try {
    return await api(method, url);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return undefined;
    throw e;
  }
}

/** Downloads an authenticated GET as a file (a plain link cannot carry the bearer token). */
export async function download(path, filename) {
  const res = await fetch(path, { headers: { authorization: `Bearer ${session.token}` }, cache: 'no-store' });
  if (!res.ok) {
    const data = await res.json().catch(() => null);
    throw new ApiError(res.status, data?.error?.code ?? `HTTP_${res.status}`, data?.error?.message ?? res.statusText);
  }
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
