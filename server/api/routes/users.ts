import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { roles } from '../../../db/schema.ts';
import { createUser, DuplicateEmailError, listUsers } from '../../services/auth.ts';
import { PasswordPolicyError } from '../../services/passwords.ts';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../errors.ts';
import { requireRole } from '../middleware/auth.ts';
import { ApiErrorSchema, jsonContent, validationHook } from '../validation.ts';
import { UserSchema } from './auth.ts';

const tags = ['users'];
const admin = requireRole('admin');

const routes = {
  list: createRoute({ method: 'get', path: '/', tags, summary: 'Users and their roles', middleware: admin, responses: { 200: jsonContent(z.object({ users: z.array(UserSchema) }), 'Users') } }),
  create: createRoute({
    method: 'post', path: '/', tags, summary: 'Add a user with a role (viewer, editor, admin)', middleware: admin,
    request: { body: { ...jsonContent(z.object({ email: z.email(), name: z.string().trim().min(1).max(100), role: z.enum(roles), password: z.string().max(1024).optional() }), 'The user; without a password they sign in with API tokens only'), required: true } },
    responses: { 201: jsonContent(z.object({ user: UserSchema }), 'Created'), 400: jsonContent(ApiErrorSchema, 'Malformed or weak password'), 409: jsonContent(ApiErrorSchema, 'E-mail taken') },
  }),
};

export const userRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.list, async (c) => c.json({ users: await listUsers(c.get('deps').db) }, 200))
  .openapi(routes.create, async (c) => {
    try {
      return c.json({ user: await createUser(c.get('deps').db, c.req.valid('json')) }, 201);
    } catch (error) {
      if (error instanceof DuplicateEmailError) throw new ApiError(409, 'email_taken', error.message);
      if (error instanceof PasswordPolicyError) throw new ApiError(400, 'weak_password', error.message);
      throw error;
    }
  });
