/**
 * Authentication for the API: `Authorization: Bearer <API token>` for automation, the HttpOnly
 * `flowyard_session` cookie for the browser. Cookie-authenticated unsafe requests must come from our own
 * origin (CSRF); Bearer requests are exempt because a browser never adds that header on its own.
 */
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { Role } from '../../../db/schema.ts';
import { hasRole, userForApiToken, userForSession } from '../../services/auth.ts';
import type { AuthUser } from '../../services/auth.ts';
import type { AppEnv } from '../env.ts';

export const SESSION_COOKIE = 'flowyard_session';

/** API paths reachable without a credential; a trailing `/*` matches everything below that path. */
export const PUBLIC_API_PATHS: string[] = [
  '/api/auth/login',
  '/api/schema/*',
  '/api/openapi.json',
  // The API reference page renders the public document above; it holds no data of its own.
  '/api/docs',
  '/api/docs/*',
  // Runners authenticate with their own tokens inside the protocol router.
  '/api/runner/v1/*',
  // Share links: the unguessable token in the path is the credential.
  '/api/share/*',
  // Signed URLs: the signature is the credential.
  '/api/blobs/*',
];

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function isPublicApiPath(path: string): boolean {
  return PUBLIC_API_PATHS.some((pattern) => (pattern.endsWith('/*') ? path.startsWith(pattern.slice(0, -1)) : path === pattern));
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

const errorResponse = (c: Context<AppEnv>, status: 401 | 403, code: string, message: string) => c.json({ error: { code, message } }, status);

type Authentication = { ok: true; user: AuthUser; viaAdminToken: boolean } | { ok: false; status: 401 | 403; code: string; message: string };

/**
 * Who this request's credential belongs to, checked against the database now: unknown, expired, revoked
 * credentials and disabled users all fail. Streams call it again while they are open.
 */
export async function authenticateRequest(c: Context<AppEnv>): Promise<Authentication> {
  const { db, config } = c.get('deps');
  const authorization = c.req.header('Authorization');
  if (authorization !== undefined) {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1];
    if (!bearer) return { ok: false, status: 401, code: 'unauthorized', message: 'the Authorization header must be "Bearer <API token>"' };
    const user = await userForApiToken(db, bearer);
    if (!user) return { ok: false, status: 401, code: 'unauthorized', message: 'the API token is unknown, expired or revoked, or its user is disabled' };
    return { ok: true, user, viaAdminToken: config.adminToken !== undefined && bearer === config.adminToken };
  }
  const sessionToken = sessionTokenOf(c);
  if (!sessionToken) return { ok: false, status: 401, code: 'unauthorized', message: 'sign in or send an API token as "Authorization: Bearer <token>"' };
  const user = await userForSession(db, sessionToken);
  if (!user) return { ok: false, status: 401, code: 'unauthorized', message: 'your session has expired, sign in again' };
  if (UNSAFE_METHODS.has(c.req.method) && !isSameOriginRequest(c)) {
    return { ok: false, status: 403, code: 'csrf_rejected', message: 'cross-origin request refused: the Origin header must match this server' };
  }
  return { ok: true, user, viaAdminToken: false };
}

/** What a user whose password must be changed may still do. */
const ALLOWED_BEFORE_PASSWORD_CHANGE = new Set(['GET /api/auth/me', 'POST /api/auth/password', 'POST /api/auth/logout']);

/**
 * Sets `user` on the context or answers 401 (no or bad credential) / 403 (cross-site cookie request, or a
 * password that must be changed first). The operator's FLOWYARD_ADMIN_TOKEN is exempt from the change.
 */
export const requireAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  const auth = await authenticateRequest(c);
  if (!auth.ok) return errorResponse(c, auth.status, auth.code, auth.message);
  if (auth.user.mustChangePassword && !auth.viaAdminToken && !ALLOWED_BEFORE_PASSWORD_CHANGE.has(`${c.req.method} ${c.req.path}`)) {
    return errorResponse(c, 403, 'password_change_required', 'choose a new password first: POST /api/auth/password with your current and a new password');
  }
  c.set('user', auth.user);
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

/**
 * The client's address for rate limiting: the connecting socket's, or with `trustProxy` (FLOWYARD_TRUST_PROXY=1)
 * the last X-Forwarded-For entry, which the proxy in front of us appended (earlier entries are the client's
 * to forge). 'unknown' when neither is available (edge runtimes, in-process requests).
 */
export function clientAddress(c: Context<AppEnv>): string {
  if (c.get('deps').config.trustProxy) {
    const forwarded = (c.req.header('X-Forwarded-For') ?? '')
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean)
      .at(-1);
    if (forwarded) return forwarded;
  }
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    // Not served by @hono/node-server: there is no socket to ask.
    return 'unknown';
  }
}
