import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { roles } from '../../../db/schema.ts';
import { authenticatePassword, changePassword, createSession, deleteSession, NEW_PASSWORD_MIN_LENGTH, WrongPasswordError } from '../../services/auth.ts';
import { checkLoginAllowed, oneAttemptAtATime, recordLoginFailure, recordLoginSuccess, throttleKeys, type LoginKeys } from '../../services/login-throttle.ts';
import { PasswordPolicyError } from '../../services/passwords.ts';
import { clearSessionCookie, clientAddress, sessionTokenOf, setSessionCookie } from '../middleware/auth.ts';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../../services/errors.ts';
import { ApiErrorSchema, jsonContent, validationHook } from '../validation.ts';

export const UserSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    name: z.string(),
    role: z.enum(roles).openapi('Role'),
    mustChangePassword: z.boolean().openapi({ description: 'Only /auth/me, /auth/password and /auth/logout answer until the password is changed' }),
  })
  .openapi('User');

const UserResponseSchema = z.object({ user: UserSchema });

const LoginRequestSchema = z.object({ email: z.string().min(1).max(320), password: z.string().min(1).max(1024) }).openapi('LoginRequest');

const loginRoute = createRoute({
  method: 'post',
  path: '/login',
  tags: ['auth'],
  summary: 'Sign in with email and password; sets the HttpOnly session cookie',
  request: { body: { ...jsonContent(LoginRequestSchema, 'Credentials'), required: true } },
  responses: {
    200: jsonContent(UserResponseSchema, 'Signed in'),
    400: jsonContent(ApiErrorSchema, 'Malformed request'),
    401: jsonContent(ApiErrorSchema, 'Wrong email or password'),
    429: jsonContent(ApiErrorSchema, 'Too many failed sign-ins for this account or address; see Retry-After'),
  },
});

const ChangePasswordSchema = z
  .object({
    currentPassword: z.string().min(1).max(1024),
    newPassword: z.string().min(NEW_PASSWORD_MIN_LENGTH, `the new password must be at least ${NEW_PASSWORD_MIN_LENGTH} characters long`).max(1024),
  })
  .openapi('ChangePasswordRequest');

const changePasswordRoute = createRoute({
  method: 'post',
  path: '/password',
  tags: ['auth'],
  summary: 'Change your own password; ends your other sessions',
  request: { body: { ...jsonContent(ChangePasswordSchema, 'Current and new password'), required: true } },
  responses: {
    204: { description: 'Changed' },
    400: jsonContent(ApiErrorSchema, 'Malformed request or a weak new password'),
    403: jsonContent(ApiErrorSchema, 'The current password is wrong'),
    429: jsonContent(ApiErrorSchema, 'Too many wrong current passwords; see Retry-After'),
  },
});

const logoutRoute = createRoute({
  method: 'post',
  path: '/logout',
  tags: ['auth'],
  summary: 'End the browser session and clear its cookie',
  responses: { 204: { description: 'Signed out' } },
});

const meRoute = createRoute({
  method: 'get',
  path: '/me',
  tags: ['auth'],
  summary: 'The authenticated user',
  responses: { 200: jsonContent(UserResponseSchema, 'The authenticated user') },
});

/** Refuses with 429 and Retry-After while the account or the client address is locked. */
async function assertNotThrottled(c: Context<AppEnv>, keys: LoginKeys): Promise<void> {
  const verdict = await checkLoginAllowed(c.get('deps').db, keys);
  if (verdict.allowed) return;
  const seconds = Math.ceil(verdict.retryAfterMs / 1000);
  c.header('Retry-After', String(seconds));
  throw new ApiError(429, 'too_many_attempts', `too many failed sign-ins; try again in ${seconds} s (after ${verdict.until.toISOString()})`);
}

/** Mounted at `/api/auth`; `/login` is public, the rest rely on `requireAuth` mounted in front. */
export const authRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(loginRoute, async (c) => {
    const { email, password } = c.req.valid('json');
    const { db } = c.get('deps');
    const keys = throttleKeys(email, clientAddress(c));
    const user = await oneAttemptAtATime(keys, async () => {
      await assertNotThrottled(c, keys);
      const authenticated = await authenticatePassword(db, email, password);
      await (authenticated ? recordLoginSuccess(db, keys) : recordLoginFailure(db, keys));
      return authenticated;
    });
    if (!user) return c.json({ error: { code: 'invalid_credentials', message: 'wrong email or password' } }, 401);
    const session = await createSession(db, user.id);
    setSessionCookie(c, session.token, session.expiresAt);
    return c.json({ user }, 200);
  })
  .openapi(logoutRoute, async (c) => {
    const sessionToken = sessionTokenOf(c);
    if (sessionToken) await deleteSession(c.get('deps').db, sessionToken);
    clearSessionCookie(c);
    return c.body(null, 204);
  })
  .openapi(meRoute, (c) => c.json({ user: c.get('user') }, 200))
  .openapi(changePasswordRoute, async (c) => {
    const { currentPassword, newPassword } = c.req.valid('json');
    const { db } = c.get('deps');
    const user = c.get('user');
    // A stolen session must not become a way around the sign-in limit to guess the password.
    const keys = throttleKeys(user.email, clientAddress(c));
    await oneAttemptAtATime(keys, async () => {
      await assertNotThrottled(c, keys);
      try {
        await changePassword(db, user.id, currentPassword, newPassword, sessionTokenOf(c));
      } catch (error) {
        if (error instanceof WrongPasswordError) {
          await recordLoginFailure(db, keys);
          throw new ApiError(403, 'wrong_password', error.message);
        }
        if (error instanceof PasswordPolicyError) throw new ApiError(400, 'weak_password', error.message);
        throw error;
      }
      await recordLoginSuccess(db, keys);
    });
    return c.body(null, 204);
  });
