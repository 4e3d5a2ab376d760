import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { roles } from '../../../db/schema.ts';
import {
  createUser,
  deleteUser,
  DuplicateEmailError,
  LastAdminError,
  listUsers,
  revokeUserCredentials,
  getUser,
  UnknownUserError,
  updateUser,
  type UserSummary,
} from '../../services/auth.ts';
import { PasswordPolicyError } from '../../services/passwords.ts';
import type { AppEnv } from '../env.ts';
import { ApiError, notFound } from '../../services/errors.ts';
import { requireRole } from '../middleware/auth.ts';
import { ApiErrorSchema, jsonContent, validationHook } from '../validation.ts';
import { UserSchema } from './auth.ts';

const tags = ['users'];
const admin = requireRole('admin');
const IdParams = z.object({ id: z.string().min(1).max(64) });
const UserDetailsSchema = UserSchema.extend({
  disabledAt: z.string().nullable().openapi({ description: 'Set while the user is disabled: no sign-in, sessions and tokens refused' }),
  createdAt: z.string(),
}).openapi('UserDetails');
const errors = { 404: jsonContent(ApiErrorSchema, 'No such user'), 409: jsonContent(ApiErrorSchema, 'Would leave no enabled admin') };

const routes = {
  list: createRoute({
    method: 'get',
    path: '/',
    tags,
    summary: 'Users, their roles and whether they are disabled',
    middleware: admin,
    responses: { 200: jsonContent(z.object({ users: z.array(UserDetailsSchema) }), 'Users') },
  }),
  create: createRoute({
    method: 'post',
    path: '/',
    tags,
    summary: 'Add a user with a role (viewer, editor, admin)',
    middleware: admin,
    request: {
      body: {
        ...jsonContent(
          z.object({ email: z.email(), name: z.string().trim().min(1).max(100), role: z.enum(roles), password: z.string().max(1024).optional() }),
          'The user; without a password they sign in with API tokens only',
        ),
        required: true,
      },
    },
    responses: {
      201: jsonContent(z.object({ user: UserSchema }), 'Created'),
      400: jsonContent(ApiErrorSchema, 'Malformed or weak password'),
      409: jsonContent(ApiErrorSchema, 'E-mail taken'),
    },
  }),
  update: createRoute({
    method: 'patch',
    path: '/{id}',
    tags,
    summary: "Change a user's role, or disable / re-enable them (disabling ends their sessions at once)",
    middleware: admin,
    request: {
      params: IdParams,
      body: { ...jsonContent(z.object({ role: z.enum(roles).optional(), disabled: z.boolean().optional() }), 'What to change'), required: true },
    },
    responses: {
      200: jsonContent(z.object({ user: UserDetailsSchema }), 'The user after the change'),
      400: jsonContent(ApiErrorSchema, 'Malformed request'),
      ...errors,
    },
  }),
  remove: createRoute({
    method: 'delete',
    path: '/{id}',
    tags,
    summary: 'Delete a user with their sessions and API tokens',
    middleware: admin,
    request: { params: IdParams },
    responses: { 204: { description: 'Deleted' }, ...errors },
  }),
  revoke: createRoute({
    method: 'post',
    path: '/{id}/revoke-sessions',
    tags,
    summary: "End all of a user's sessions and revoke all their API tokens",
    middleware: admin,
    request: { params: IdParams },
    responses: { 204: { description: 'Revoked' }, 404: errors[404] },
  }),
};

const toJson = (user: UserSummary) => ({ ...user, disabledAt: user.disabledAt?.toISOString() ?? null, createdAt: user.createdAt.toISOString() });

function accountError(error: unknown): never {
  if (error instanceof UnknownUserError) throw notFound('user');
  if (error instanceof LastAdminError) throw new ApiError(409, 'last_admin', error.message);
  throw error;
}

/** Mounted at `/api/users`; admins only. */
export const userRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.list, async (c) => c.json({ users: (await listUsers(c.get('deps').db)).map(toJson) }, 200))
  .openapi(routes.create, async (c) => {
    try {
      return c.json({ user: await createUser(c.get('deps').db, c.req.valid('json')) }, 201);
    } catch (error) {
      if (error instanceof DuplicateEmailError) throw new ApiError(409, 'email_taken', error.message);
      if (error instanceof PasswordPolicyError) throw new ApiError(400, 'weak_password', error.message);
      throw error;
    }
  })
  .openapi(routes.update, async (c) => {
    const user = await updateUser(c.get('deps').db, c.req.valid('param').id, c.req.valid('json')).catch(accountError);
    return c.json({ user: toJson(user) }, 200);
  })
  .openapi(routes.remove, async (c) => {
    await deleteUser(c.get('deps').db, c.req.valid('param').id).catch(accountError);
    return c.body(null, 204);
  })
  .openapi(routes.revoke, async (c) => {
    const { db } = c.get('deps');
    const { id } = c.req.valid('param');
    if (!(await getUser(db, id))) throw notFound('user');
    await revokeUserCredentials(db, id);
    return c.body(null, 204);
  });
