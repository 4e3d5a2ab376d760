import { z, type Hook } from '@hono/zod-openapi';
import type { AppEnv } from './env.ts';

/** Body of every JSON error answer, for the OpenAPI document. */
export const ApiErrorSchema = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    }),
  })
  .openapi('ApiError');

/** A JSON response (or request body) entry for `createRoute`. */
export const jsonContent = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { 'application/json': { schema } },
  description,
});

/**
 * `defaultHook` for `OpenAPIHono` routers: a request that fails its zod schema gets a 400
 * `{ error: { code: 'invalid_request', message, issues: [{ path, message }] } }`.
 */
export const validationHook: Hook<unknown, AppEnv, string, Response | undefined> = (result, c) => {
  if (result.success) return undefined;
  const issues = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
  const summary = issues.map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message)).join('; ');
  return c.json({ error: { code: 'invalid_request', message: `invalid request ${result.target}: ${summary}`, issues } }, 400);
};
