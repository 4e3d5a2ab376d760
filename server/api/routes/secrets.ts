import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { secretName } from '../../engine/schema/common.ts';
import { deleteWorkflowSecret, listWorkflowSecretNames, setWorkflowSecret } from '../../services/secrets.ts';
import { getWorkflow } from '../../services/workflows.ts';
import type { AppEnv } from '../env.ts';
import { notFound } from '../../services/errors.ts';
import { withIsoDates as iso } from '../json-dates.ts';
import { requireRole } from '../middleware/auth.ts';
import { ApiErrorSchema, jsonContent, validationHook } from '../validation.ts';

const tags = ['secrets'];
const Params = z.object({ id: z.string().min(1).max(64) });
const NamedParams = Params.extend({ name: secretName });

const routes = {
  list: createRoute({
    method: 'get',
    path: '/workflows/{id}/secrets',
    tags,
    summary: 'Secret names (values are write-only)',
    request: { params: Params },
    responses: {
      200: jsonContent(z.object({ secrets: z.array(z.object({ name: z.string(), updatedAt: z.string() })) }), 'Names'),
      404: jsonContent(ApiErrorSchema, 'No such workflow'),
    },
  }),
  put: createRoute({
    method: 'put',
    path: '/workflows/{id}/secrets/{name}',
    tags,
    summary: 'Set a secret; stored encrypted, never returned',
    middleware: [requireRole('editor')] as const,
    request: {
      params: NamedParams,
      body: {
        ...jsonContent(
          z.object({
            value: z
              .string()
              .min(1)
              .max(64 * 1024),
          }),
          'The value',
        ),
        required: true,
      },
    },
    responses: { 204: { description: 'Stored' }, 400: jsonContent(ApiErrorSchema, 'Malformed'), 404: jsonContent(ApiErrorSchema, 'No such workflow') },
  }),
  delete: createRoute({
    method: 'delete',
    path: '/workflows/{id}/secrets/{name}',
    tags,
    summary: 'Delete a secret',
    middleware: [requireRole('editor')] as const,
    request: { params: NamedParams },
    responses: { 204: { description: 'Deleted' }, 404: jsonContent(ApiErrorSchema, 'No such secret') },
  }),
};

export const secretRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.list, async (c) => {
    const { db } = c.get('deps');
    await getWorkflow(db, c.req.valid('param').id);
    return c.json({ secrets: (await listWorkflowSecretNames(db, c.req.valid('param').id)).map(iso) }, 200);
  })
  .openapi(routes.put, async (c) => {
    const { db, secretsKey } = c.get('deps');
    const { id, name } = c.req.valid('param');
    await getWorkflow(db, id);
    await setWorkflowSecret(db, secretsKey, id, name, c.req.valid('json').value);
    return c.body(null, 204);
  })
  .openapi(routes.delete, async (c) => {
    const { id, name } = c.req.valid('param');
    if (!(await deleteWorkflowSecret(c.get('deps').db, id, name))) throw notFound(`secret ${name}`);
    return c.body(null, 204);
  });
