import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { pluginStatuses, pluginValidationResults } from '../../../db/schema.ts';
import { pluginValidationHistory, validationMatrix, DEFAULT_MATRIX_COLUMNS } from '../../services/plugin-validation-matrix.ts';
import { setValidationEnvironment, validatePlugin } from '../../services/plugin-validation.ts';
import type { AppEnv } from '../env.ts';
import { withIsoDates as iso } from '../json-dates.ts';
import { requireRole } from '../middleware/auth.ts';
import { ApiErrorSchema, jsonContent, validationHook } from '../validation.ts';

const tags = ['plugin validations'];
const Params = z.object({
  owner: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,38}$/, 'expected the owner part of owner/name in lower case')
    .openapi({ param: { name: 'owner', in: 'path' } }),
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,99}$/, 'expected the name part of owner/name in lower case')
    .openapi({ param: { name: 'name', in: 'path' } }),
});
const StatusSchema = z.enum(pluginStatuses).openapi('PluginStatus');
const ResultSchema = z.enum(pluginValidationResults).openapi('PluginValidationResult');
const ValidationSchema = z
  .object({
    id: z.string(),
    version: z.string(),
    result: ResultSchema,
    runId: z.string().nullable().openapi({ description: 'The run of the minimal example; null when nothing ran' }),
    runNumber: z.number().int().nullable(),
    detail: z.string(),
    createdAt: z.string(),
  })
  .openapi('PluginValidation');
const PluginValidationSummary = z
  .object({
    name: z.string(),
    status: StatusSchema,
    version: z.string().nullable().openapi({ description: 'The newest installed version: the one the next validation runs' }),
    environment: z.object({ id: z.string(), name: z.string() }).nullable().openapi({ description: 'Whose secrets the example runs with; null: not validated' }),
    warning: z.boolean().openapi({ description: 'Verified, but the last run was red: one more red run demotes it' }),
    running: z
      .object({ runId: z.string(), runNumber: z.number().int(), state: z.string() })
      .nullable()
      .openapi({ description: 'A validation run that has not ended yet' }),
    results: z.array(ValidationSchema).openapi({ description: 'Newest first' }),
  })
  .openapi('PluginValidationSummary');
const MatrixSchema = z.object({ columns: z.number().int(), plugins: z.array(PluginValidationSummary) }).openapi('PluginValidationMatrix');
const StatusChangeSchema = z
  .object({
    id: z.string(),
    fromStatus: StatusSchema.nullable(),
    toStatus: StatusSchema,
    changedBy: z.string().openapi({ description: '`validation`, or the id of the admin who set it' }),
    changedByEmail: z.string().nullable(),
    reason: z.string(),
    runIds: z.array(z.string()).openapi({ description: 'The validation runs that caused the change' }),
    createdAt: z.string(),
  })
  .openapi('PluginStatusChange');
const HistorySchema = PluginValidationSummary.extend({ statusChanges: z.array(StatusChangeSchema) }).openapi('PluginValidationHistory');
const StartSchema = z
  .object({
    plugin: z.string(),
    version: z.string(),
    result: z.enum(['running', 'not_validated', 'red']).openapi({ description: 'running: recorded when the run ends' }),
    runId: z.string().nullable(),
    detail: z.string(),
  })
  .openapi('PluginValidationStart');
const EnvironmentBody = z
  .object({ environmentId: z.string().min(1).max(64).nullable().openapi({ description: 'null detaches: the plugin is then reported not validated' }) })
  .openapi('PluginValidationEnvironment');
const errors = { 400: jsonContent(ApiErrorSchema, 'Malformed'), 404: jsonContent(ApiErrorSchema, 'No such plugin') };
const admin = requireRole('admin');
const pluginName = (params: z.infer<typeof Params>) => `${params.owner}/${params.name}`;

const routes = {
  matrix: createRoute({
    method: 'get',
    path: '/',
    tags,
    summary: 'The validation matrix: every installed plugin with its last N results',
    request: { query: z.object({ limit: z.coerce.number().int().min(1).max(50).default(DEFAULT_MATRIX_COLUMNS) }) },
    responses: { 200: jsonContent(MatrixSchema, 'The matrix'), 400: errors[400] },
  }),
  history: createRoute({
    method: 'get',
    path: '/{owner}/{name}',
    tags,
    summary: "A plugin's validation results and status changes",
    request: { params: Params },
    responses: { 200: jsonContent(HistorySchema, 'The history'), ...errors },
  }),
  validate: createRoute({
    method: 'post',
    path: '/{owner}/{name}/validate',
    tags,
    summary: "Validate now: run the newest version's minimal example with the attached environment",
    middleware: admin,
    request: { params: Params },
    responses: { 202: jsonContent(StartSchema, 'Started (or recorded at once when nothing could run)'), ...errors },
  }),
  environment: createRoute({
    method: 'put',
    path: '/{owner}/{name}/environment',
    tags,
    summary: 'Attach or detach the environment whose secrets validation runs use',
    middleware: admin,
    request: { params: Params, body: { ...jsonContent(EnvironmentBody, 'The environment'), required: true } },
    responses: { 200: jsonContent(HistorySchema, 'The plugin with its history'), 422: jsonContent(ApiErrorSchema, 'No such environment'), ...errors },
  }),
};

const historyJson = (history: Awaited<ReturnType<typeof pluginValidationHistory>>) => ({
  ...history,
  results: history.results.map(iso),
  statusChanges: history.statusChanges.map(iso),
});

export const pluginValidationRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.matrix, async (c) => {
    const matrix = await validationMatrix(c.get('deps').db, c.req.valid('query').limit);
    return c.json({ ...matrix, plugins: matrix.plugins.map((p) => ({ ...p, results: p.results.map(iso) })) }, 200);
  })
  .openapi(routes.history, async (c) => c.json(historyJson(await pluginValidationHistory(c.get('deps').db, pluginName(c.req.valid('param')))), 200))
  .openapi(routes.validate, async (c) => {
    const { db, events, secretsKey } = c.get('deps');
    return c.json(
      await validatePlugin({ db, events, secretsKey }, pluginName(c.req.valid('param')), { requestedBy: c.get('user').id, trigger: 'manual' }),
      202,
    );
  })
  .openapi(routes.environment, async (c) => {
    const name = pluginName(c.req.valid('param'));
    await setValidationEnvironment(c.get('deps').db, name, c.req.valid('json').environmentId);
    return c.json(historyJson(await pluginValidationHistory(c.get('deps').db, name)), 200);
  });
