/**
 * Authentication for the API: `Authorization: Bearer <API token>` for automation, the HttpOnly
 * `flowyard_session` cookie for the browser. Cookie-authenticated unsafe requests must come from our own
 * origin (CSRF); Bearer requests are exempt because a browser never adds that header on its own.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { Role } from '../../../db/schema.ts';
import { hasRole, userForApiToken, userForSession } from '../../services/auth.ts';
import type { AppEnv, AuthUser } from '../env.ts';

export const SESSION_COOKIE = 'flowyard_session';

/** API paths reachable without a credential; a trailing `/*` matches everything below that path. */
export const PUBLIC_API_PATHS: string[] = [
  '/api/auth/login',
  '/api/schema/*',
  '/api/openapi.json',
  // Runners authenticate with their own tokens inside the protocol router.
  '/api/runner/v1/*',
  // Share links: the unguessable token in the path is the credential.
  '/api/share/*',
  // Signed URLs: the signature is the credential.
  '/api/blobs/*',
];

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function isPublicApiPath(path: string): boolean {
  return PUBLIC_API_PATHS.some((pattern) =>
    pattern.endsWith('/*') ? path.startsWith(pattern.slice(0, -1)) : path === pattern,
  );
}

export function setSessionCookie(c: Context<AppEnv>, token: string, expiresAt: Date): void {
  setCookie(c, SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: 'Lax',
    path: '/',
    secure: c.get('deps').config.secureCookies,
    expires: expiresAt,
  });
}

export function clearSessionCookie(c: Context<AppEnv>): void {
  deleteCookie(c, SESSION_COOKIE, { path: '/', secure: c.get('deps').config.secureCookies });
}

export function sessionTokenOf(c: Context<AppEnv>): string | undefined {
  return getCookie(c, SESSION_COOKIE);
}

const errorResponse = (c: Context<AppEnv>, status: 401 | 403, code: string, message: string) =>
  c.json({ error: { code, message } }, status);

/** Sets `user` on the context or answers 401 (no or bad credential) / 403 (cross-site cookie request). */
export const requireAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  const { db } = c.get('deps');
  const authorization = c.req.header('Authorization');
  let user: AuthUser | null;
  if (authorization !== undefined) {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1];
    if (!bearer) return errorResponse(c, 401, 'unauthorized', 'the Authorization header must be "Bearer <API token>"');
    user = await userForApiToken(db, bearer);
    if (!user) return errorResponse(c, 401, 'unauthorized', 'the API token is unknown, expired or revoked');
  } else {
    const sessionToken = sessionTokenOf(c);
    if (!sessionToken) return errorResponse(c, 401, 'unauthorized', 'sign in or send an API token as "Authorization: Bearer <token>"');
    user = await userForSession(db, sessionToken);
    if (!user) return errorResponse(c, 401, 'unauthorized', 'your session has expired, sign in again');
    if (UNSAFE_METHODS.has(c.req.method) && !isSameOriginRequest(c)) {
      return errorResponse(c, 403, 'csrf_rejected', 'cross-origin request refused: the Origin header must match this server');
    }
  }
  c.set('user', user);
  await next();
};

/** `requireAuth` for every path except `PUBLIC_API_PATHS`; mount it once on `/api/*`. */
export const authUnlessPublic: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (isPublicApiPath(c.req.path)) return next();
  return requireAuth(c, next);
};

/** Answers 403 unless the authenticated user has at least `minRole` (viewer < editor < admin). */
export function requireRole(minRole: Role): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const user: AuthUser | undefined = c.get('user');
    if (!user) return errorResponse(c, 401, 'unauthorized', 'sign in first');
    if (!hasRole(user, minRole)) {
      return errorResponse(c, 403, 'forbidden', `this needs the ${minRole} role; you are ${user.role}`);
    }
    await next();
  };
}

function isSameOriginRequest(c: Context<AppEnv>): boolean {
  if (c.req.header('Sec-Fetch-Site') === 'same-origin') return true;
  const origin = c.req.header('Origin');
  if (!origin) return false;
  return origin === new URL(c.req.url).origin || origin === new URL(c.get('deps').config.publicUrl).origin;
}
