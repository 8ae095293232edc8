// The public API, nothing else: REST under /api/v1 with bearer tokens, refreshed once on a 401,
// and RFC 9457 problem documents turned into ApiError (status, detail, per-field errors).

const BASE = '/api/v1';
const STORE = 'symbiont.session';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }

  /** The problem's field errors, as {field: message}. */
  get fields() {
    const out = {};
    for (const e of this.problem.errors || []) {
      out[e.field] = out[e.field] ? `${out[e.field]}; ${e.message}` : e.message;
    }
    return out;
  }
}

let session = load();
const listeners = new Set();

function load() {
  try {
    return JSON.parse(sessionStorage.getItem(STORE)) || null;
  } catch {
    return null;
  }
}

function save(value) {
  session = value;
  if (value) sessionStorage.setItem(STORE, JSON.stringify(value));
  else sessionStorage.removeItem(STORE);
  for (const listener of listeners) listener(session);
}

export const auth = {
  get token() {
    return session?.access_token || null;
  },
  get signedIn() {
    return Boolean(session);
  },
  onChange(listener) {
    listeners.add(listener);
  },
  async signIn(email, password) {
    const pair = await request('POST', '/auth/login', { email, password }, { anonymous: true });
    save(pair);
    return pair;
  },
  async signOut() {
    const refresh = session?.refresh_token;
    try {
      if (refresh) await request('POST', '/auth/logout', { refresh_token: refresh });
    } catch {
      // The session ends locally whatever the server says.
    }
    save(null);
  },
};

let refreshing = null;

async function refresh() {
  if (!session?.refresh_token) return false;
  refreshing ||= fetch(`${BASE}/auth/refresh`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refresh_token: session.refresh_token }),
  })
    .then(async (response) => {
      if (!response.ok) {
        save(null);
        return false;
      }
      save(await response.json());
      return true;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/** One API call; `body` is sent as JSON. Returns the parsed body (null for 204). */
export async function request(method, path, body, options = {}) {
  const send = () => {
    const headers = { accept: options.accept || 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (!options.anonymous && session?.access_token) headers.authorization = `Bearer ${session.access_token}`;
    Object.assign(headers, options.headers || {});
    return fetch(`${BASE}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  };
  let response = await send();
  // Past the rate limit: wait as long as the server asks (at most 5 s), three times at most.
  for (let attempt = 0; response.status === 429 && attempt < 3; attempt += 1) {
    const seconds = Math.min(5, Number(response.headers.get('retry-after')) || 1);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    response = await send();
  }
  if (response.status === 401 && !options.anonymous && session && (await refresh())) {
    response = await send();
  }
  if (response.status === 204) return null;
  const type = response.headers.get('content-type') || '';
  const payload = type.includes('json') ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    if (response.status === 401 && !options.anonymous) save(null);
    throw new ApiError(response.status, payload);
  }
  return payload;
}

export const get = (path, options) => request('GET', path, undefined, options);

/** Every page of a cursor-paged list, up to `maxItems`; `items` picks the array of a page. */
export async function pages(path, { maxItems = Infinity, items = (p) => p.items, accept, onPage } = {}) {
  const out = [];
  let cursor = null;
  const sep = path.includes('?') ? '&' : '?';
  do {
    const page = await get(cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path, { accept });
    const got = items(page);
    out.push(...got);
    if (onPage) onPage(got, page);
    cursor = page.next_cursor;
  } while (cursor && out.length < maxItems);
  return out;
}

/** Who is signed in, or null. */
export async function me() {
  if (!session) return null;
  try {
    return await get('/auth/me');
  } catch {
    return null;
  }
}

/** The WebSocket URL of the live feed on this origin. */
export function feedUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${BASE}/ws`;
}
