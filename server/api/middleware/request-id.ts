/**
 * Gives every HTTP request an id: the caller's X-Request-Id when it is sane (a proxy or client that already
 * tagged the request keeps its id across hops), else a new UUID. The id is returned in the X-Request-Id
 * response header and is in every log line about the request, so a user's report of a failure finds its log.
 */
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env.ts';

export const REQUEST_ID_HEADER = 'X-Request-Id';
/** Letters, digits and `._:-` only, at most 128 characters: an id is logged, so nothing that could forge a line or bloat it. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's id when sane, else a fresh one. */
export function requestIdFor(incoming: string | undefined): string {
  return incoming !== undefined && SANE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
}

export const requestId: MiddlewareHandler<AppEnv> = async (c, next) => {
  const id = requestIdFor(c.req.header(REQUEST_ID_HEADER));
  c.set('requestId', id);
  c.header(REQUEST_ID_HEADER, id);
  await next();
  // A handler that returned a Response of its own: the id still goes back on it.
  if (c.res.headers.has(REQUEST_ID_HEADER)) return;
  try {
    c.res.headers.set(REQUEST_ID_HEADER, id);
  } catch {
    // Immutable headers (a fetched Response passed through): those go back as they came.
  }
};
