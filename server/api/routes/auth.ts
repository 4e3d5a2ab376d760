import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { roles } from '../../../db/schema.ts';
import { authenticatePassword, createSession, deleteSession } from '../../services/auth.ts';
import { clearSessionCookie, sessionTokenOf, setSessionCookie } from '../middleware/auth.ts';
import type { AppEnv } from '../env.ts';
import { ApiErrorSchema, jsonContent, validationHook } from '../validation.ts';

export const UserSchema = z
  .object({ id: z.string(), email: z.string(), name: z.string(), role: z.enum(roles) })
  .openapi('User');

const UserResponseSchema = z.object({ user: UserSchema });

const LoginRequestSchema = z
  .object({ email: z.string().min(1).max(320), password: z.string().min(1).max(1024) })
  .openapi('LoginRequest');

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

/** Mounted at `/api/auth`; `/login` is public, the rest rely on `requireAuth` mounted in front. */
export const authRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(loginRoute, async (c) => {
    const { email, password } = c.req.valid('json');
    const { db } = c.get('deps');
    const user = await authenticatePassword(db, email, password);
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
  .openapi(meRoute, (c) => c.json({ user: c.get('user') }, 200));
