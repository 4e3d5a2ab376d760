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

/** Objects whose keys the workflow or provider decides (run inputs and outputs, trigger payloads, provider settings). */
export const JsonObjectSchema = z
  .record(z.string(), z.unknown())
  .openapi('JsonObject', { description: 'A JSON object whose keys the workflow or provider decides' });

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

/**
 * `schema | null` for a named (`.openapi('Name')`) schema: `.nullable()` on one is written to the document as
 * the bare `$ref`, losing the null, so generated types would claim the value is always there.
 */
export const orNull = <T extends z.ZodType>(schema: T) => z.union([schema, z.null()]);
