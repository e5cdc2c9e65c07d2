/*
 * REST: every call of the page to the public API.
 *
 * The page is served by the API's own origin, so the httpOnly `jwt` cookie that signup and login set
 * authenticates every fetch() (and the socket): the token never touches JS storage. A client on
 * another origin would send `Authorization: Bearer <token>` instead (`token` below does that).
 * A 401 while signed in means the session ended: `onUnauthorized` is called.
 */

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `Request failed (${status})`);
    this.status = status;
    this.code = body && body.code;
    this.details = body && body.details;
  }
}

/**
 * `createApi({origin, fetch, onUnauthorized, token})`: `request(method, path, {json, form, query})`
 * resolves to `{body, nextCursor, syncPosition}` or throws ApiError.
 */
export function createApi({ origin, fetch: fetchFn = (...args) => globalThis.fetch(...args), onUnauthorized = () => {}, token = () => null }) {
  async function request(method, path, { json, form, query } = {}) {
    const url = new URL(path, origin);
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== null && value !== undefined && value !== '') url.searchParams.set(key, value);
    }
    const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    const bearer = token();
    if (bearer) init.headers.Authorization = `Bearer ${bearer}`;
    if (json !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(json);
    } else if (form) {
      init.body = form; // the browser sets the multipart boundary
    }
    let response;
    try {
      response = await fetchFn(url, init);
    } catch (error) {
      throw new ApiError(0, { message: 'The server cannot be reached.', code: 'network_error' });
    }
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const error = new ApiError(response.status, body);
      if (response.status === 401) onUnauthorized(error);
      throw error;
    }
    const position = response.headers.get('X-Sync-Position');
    return { body, nextCursor: response.headers.get('X-Next-Cursor'), syncPosition: position === null ? null : Number(position) };
  }

  return {
    request,
    get: async (path, query) => (await request('GET', path, { query })).body,
    post: async (path, json = {}) => (await request('POST', path, { json })).body,
    page: (path, query) => request('GET', path, { query }), // {body: [...], nextCursor, syncPosition}
  };
}

/** Where a conversation lives: a direct chat by the other user's id, a group by its chat id. */
export const paths = {
  history: (key, group) => (group ? `/api/chats/${key}/messages` : `/api/messages/${key}`),
  send: (key, group) => (group ? `/api/chats/${key}/messages` : `/api/messages/send/${key}`),
  search: (key, group) => (group ? `/api/chats/${key}/search` : `/api/messages/search/${key}`),
};
