import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { pluginStatuses, pluginValidationResults } from '../../../db/schema.ts';
import { pluginName, semverText } from '../../engine/plugin-manifest.ts';
import { searchPlugins } from '../../services/plugins/catalog.ts';
import { pluginDetails } from '../../services/plugins/details.ts';
import { installFromRegistry, installUpload, upgradePlugin } from '../../services/plugins/install.ts';
import { setPluginStatus, uninstallPlugin } from '../../services/plugins/installed.ts';
import { DEFAULT_REGISTRY_TTL_MS, type RegistrySettings } from '../../services/plugins/registry-client.ts';
import { MAX_ARCHIVE_BYTES } from '../../services/plugins/archive.ts';
import { ApiError } from '../../services/errors.ts';
import type { AppEnv } from '../env.ts';
import { withIsoDates as iso } from '../json-dates.ts';
import { requireRole } from '../middleware/auth.ts';
import { ApiErrorSchema, JsonObjectSchema, jsonContent, orNull, validationHook } from '../validation.ts';

const tags = ['plugins'];
const StatusSchema = z.enum(pluginStatuses).openapi('PluginStatus');
const Params = z.object({ owner: z.string().min(1).max(39), name: z.string().min(1).max(100) });
const Range = z.string().min(1).max(100).openapi({ description: 'An exact version (1.2.3) or a semver range (^1.2, >=1 <2, *)' });

const RegistryStateSchema = z
  .object({
    url: z.string(),
    ok: z.boolean(),
    source: z.enum(['cache', 'network', 'revalidated']).nullable().openapi({ description: 'cache: within the TTL; revalidated: a 304 kept it' }),
    error: z.string().nullable(),
    plugins: z.number().int(),
  })
  .openapi('PluginRegistryState');
const PluginSummarySchema = z
  .object({
    name: z.string(),
    description: z.string(),
    status: StatusSchema,
    source: z.string().openapi({ description: '`local` when installed here, else the registry URL it would be installed from' }),
    installed: z.boolean(),
    installedVersions: z.array(z.string()),
    availableVersions: z.array(z.string()).openapi({ description: 'What the registries offer that this Flowyard can run, newest first' }),
    latestVersion: z.string(),
    stepTypes: z.array(z.string()),
    deployProviders: z.array(z.string()).openapi({ description: "What deploy.target's provider names for it (docs/deployments.md)" }),
  })
  .openapi('PluginSummary');
const PluginStepSchema = z
  .object({
    type: z.string(),
    description: z.string(),
    config: JsonObjectSchema.openapi({ description: "JSON Schema of the step's config (unknown keys are always errors)" }),
    outputs: z.array(z.object({ name: z.string(), description: z.string(), fields: z.array(z.string()) })),
    runtime: z.union([
      z.object({ kind: z.literal('container'), image: z.string() }),
      z.object({
        kind: z.literal('remote'),
        command: z.array(z.string()).nullable(),
        address: z.string().nullable(),
        transport: z.enum(['unix', 'tcp']),
        configMessage: z.string().nullable(),
      }),
    ]),
  })
  .openapi('PluginStep');
const PluginDeployProviderSchema = z
  .object({
    name: z.string().openapi({ description: "What deploy.target's provider names" }),
    description: z.string(),
    settings: JsonObjectSchema.openapi({ description: "JSON Schema of deploy.target's settings for it (unknown keys are always errors)" }),
    runtime: z.object({
      kind: z.literal('remote'),
      command: z.array(z.string()).nullable(),
      address: z.string().nullable(),
      transport: z.enum(['unix', 'tcp']),
    }),
  })
  .openapi('PluginDeployProvider');
const PluginDetailsSchema = z
  .object({
    name: z.string(),
    description: z.string(),
    homepage: z.string().nullable(),
    license: z.string(),
    flowyard: z.string().openapi({ description: 'The Flowyard versions it works with (semver range)' }),
    status: StatusSchema,
    installed: z.boolean(),
    source: z.string(),
    shownVersion: z.string().openapi({ description: 'The version whose manifest and example are shown: the newest installed, else the newest offered' }),
    steps: z.array(PluginStepSchema),
    deployProviders: z.array(PluginDeployProviderSchema),
    minimalExample: z.string().openapi({ description: 'examples/minimal/config.yaml' }),
    versions: z.array(
      z.object({
        version: z.string(),
        digest: z.string(),
        flowyard: z.string(),
        installed: z.boolean(),
        installedAt: z.string().nullable(),
        installedByEmail: z.string().nullable(),
        source: z.string(),
      }),
    ),
    validations: z.array(
      z.object({ version: z.string(), result: z.enum(pluginValidationResults), runId: z.string().nullable(), detail: z.string(), createdAt: z.string() }),
    ),
    statusChanges: z.array(
      z.object({
        fromStatus: orNull(StatusSchema),
        toStatus: StatusSchema,
        changedBy: z.string().openapi({ description: '`validation` or the id of the admin' }),
        changedByEmail: z.string().nullable(),
        reason: z.string(),
        runIds: z.array(z.string()),
        createdAt: z.string(),
      }),
    ),
    usedBy: z
      .array(z.object({ workflow: z.string(), version: z.number().int(), pinned: z.string() }))
      .openapi({ description: 'Published workflows pinning it' }),
  })
  .openapi('PluginDetails');
const PackageErrorSchema = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      problems: z.array(z.object({ file: z.string(), line: z.number().int(), column: z.number().int(), field: z.string(), message: z.string() })).optional(),
    }),
  })
  .openapi('PluginPackageError');
const InUseSchema = z
  .object({ error: z.object({ code: z.string(), message: z.string(), workflows: z.array(z.string()).optional() }) })
  .openapi('PluginInUseError');

const errors = {
  400: jsonContent(ApiErrorSchema, 'Malformed'),
  403: jsonContent(ApiErrorSchema, 'Admins only'),
  404: jsonContent(ApiErrorSchema, 'No such plugin'),
};
const installErrors = {
  ...errors,
  409: jsonContent(ApiErrorSchema, 'Already installed with another digest, or nothing newer'),
  422: jsonContent(PackageErrorSchema, 'Invalid archive or manifest, digest mismatch, or incompatible'),
  502: jsonContent(ApiErrorSchema, 'A registry failed'),
};
const admin = requireRole('admin');

const routes = {
  search: createRoute({
    method: 'get',
    path: '/',
    tags,
    summary: 'Installed and remote plugins as one list (local wins)',
    request: {
      query: z.object({
        q: z.string().max(200).optional().openapi({ description: 'Text in the name, description, step types or deploy providers' }),
        stepType: z.string().max(100).optional(),
        deployProvider: z.string().max(100).optional().openapi({ description: 'A deploy provider name, e.g. aws_ecs' }),
        status: StatusSchema.optional(),
      }),
    },
    responses: { 200: jsonContent(z.object({ plugins: z.array(PluginSummarySchema), registries: z.array(RegistryStateSchema) }), 'Plugins') },
  }),
  show: createRoute({
    method: 'get',
    path: '/{owner}/{name}',
    tags,
    summary: 'A plugin: step types, config schemas, deploy providers, minimal example, versions, status and validation history',
    request: { params: Params },
    responses: { 200: jsonContent(PluginDetailsSchema, 'The plugin'), ...errors, 502: jsonContent(ApiErrorSchema, 'A registry failed') },
  }),
  install: createRoute({
    method: 'post',
    path: '/install',
    tags,
    summary: "Install a version or range from the configured registries; the archive's digest must be the index's",
    middleware: admin,
    request: {
      body: {
        ...jsonContent(z.object({ name: pluginName, version: Range.default('*'), registry: z.string().url().max(2000).optional() }), 'What to install'),
        required: true,
      },
    },
    responses: { 201: jsonContent(PluginDetailsSchema, 'Installed'), 200: jsonContent(PluginDetailsSchema, 'Already installed'), ...installErrors },
  }),
  upload: createRoute({
    method: 'post',
    path: '/upload',
    tags,
    summary: `Install an uploaded plugin archive (tar.gz, at most ${MAX_ARCHIVE_BYTES / 1024 / 1024} MiB) as registry local`,
    middleware: admin,
    request: { body: { content: { 'application/gzip': { schema: z.string().openapi({ format: 'binary' }) } }, required: true } },
    responses: { 201: jsonContent(PluginDetailsSchema, 'Installed'), 200: jsonContent(PluginDetailsSchema, 'Already installed'), ...installErrors },
  }),
  upgrade: createRoute({
    method: 'post',
    path: '/{owner}/{name}/upgrade',
    tags,
    summary: 'Install the newest version newer than the installed ones, from the registry it came from',
    middleware: admin,
    request: { params: Params, body: { ...jsonContent(z.object({ version: Range.default('*') }), 'Upper bound'), required: false } },
    responses: { 200: jsonContent(PluginDetailsSchema, 'Upgraded'), ...installErrors },
  }),
  uninstall: createRoute({
    method: 'delete',
    path: '/{owner}/{name}',
    tags,
    summary: 'Uninstall a plugin (or one version); refused while a published workflow version pins it',
    middleware: admin,
    request: { params: Params, query: z.object({ version: semverText.optional() }) },
    responses: { 204: { description: 'Uninstalled' }, ...errors, 409: jsonContent(InUseSchema, 'Pinned by published workflows, named') },
  }),
  status: createRoute({
    method: 'put',
    path: '/{owner}/{name}/status',
    tags,
    summary: "Set a plugin's status by hand (the registry owner); deprecated is only ever set this way",
    middleware: admin,
    request: {
      params: Params,
      body: { ...jsonContent(z.object({ status: StatusSchema, reason: z.string().max(1000).default('') }), 'Status'), required: true },
    },
    responses: { 200: jsonContent(PluginDetailsSchema, 'The plugin'), ...errors },
  }),
};

const registriesOf = (c: Context<AppEnv>): RegistrySettings => {
  const { pluginRegistries, pluginRegistryTtlMs } = c.get('deps').config;
  return { urls: pluginRegistries ?? [], ttlMs: pluginRegistryTtlMs ?? DEFAULT_REGISTRY_TTL_MS };
};

const fullName = (params: { owner: string; name: string }) => `${params.owner}/${params.name}`;

async function detailsJson(c: Context<AppEnv>, name: string) {
  const details = await pluginDetails(c.get('deps').db, registriesOf(c), name);
  return {
    ...details,
    versions: details.versions.map(iso),
    validations: details.validations.map(iso),
    statusChanges: details.statusChanges.map(iso),
  };
}

/** The upload body, already bounded by the body-limit middleware (8 MiB for gzip bodies only); read once as bytes. */
async function uploadedArchive(c: Context<AppEnv>): Promise<Buffer> {
  const type = c.req.header('content-type') ?? 'none';
  if (type !== 'application/gzip') {
    throw new ApiError(
      400,
      'invalid_request',
      `the body must be the plugin archive (.tar.gz) sent as application/gzip, not ${type} (JSON is not accepted here)`,
    );
  }
  return Buffer.from(await c.req.arrayBuffer());
}

export const pluginRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.search, async (c) => {
    const { q, stepType, deployProvider, status } = c.req.valid('query');
    return c.json(await searchPlugins(c.get('deps').db, registriesOf(c), { text: q, stepType, deployProvider, status }), 200);
  })
  .openapi(routes.show, async (c) => c.json(await detailsJson(c, fullName(c.req.valid('param'))), 200))
  .openapi(routes.install, async (c) => {
    const installed = await installFromRegistry(c.get('deps').db, registriesOf(c), c.req.valid('json'), c.get('user').id);
    return c.json(await detailsJson(c, installed.name), installed.created ? 201 : 200);
  })
  .openapi(routes.upload, async (c) => {
    const installed = await installUpload(c.get('deps').db, await uploadedArchive(c), c.get('user').id);
    return c.json(await detailsJson(c, installed.name), installed.created ? 201 : 200);
  })
  .openapi(routes.upgrade, async (c) => {
    const name = fullName(c.req.valid('param'));
    // The body is optional: no body means any newer version.
    const range = (c.req.valid('json') as { version?: string } | undefined)?.version ?? '*';
    await upgradePlugin(c.get('deps').db, registriesOf(c), name, range, c.get('user').id);
    return c.json(await detailsJson(c, name), 200);
  })
  .openapi(routes.uninstall, async (c) => {
    await uninstallPlugin(c.get('deps').db, fullName(c.req.valid('param')), c.req.valid('query').version);
    return c.body(null, 204);
  })
  .openapi(routes.status, async (c) => {
    const name = fullName(c.req.valid('param'));
    const { status, reason } = c.req.valid('json');
    await setPluginStatus(c.get('deps').db, name, status, c.get('user').id, reason);
    return c.json(await detailsJson(c, name), 200);
  });
