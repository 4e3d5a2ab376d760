/**
 * The plugin manifest (`plugin.yaml` at the root of a plugin folder or archive): the contract between a plugin's
 * author, the registry, the engine (which checks workflows against the step types it declares) and the runner
 * (which runs them). Pure: no I/O.
 */
import { z } from 'zod';

/** `owner/name`, lower case, as in registries. */
export const pluginName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,38}\/[a-z0-9][a-z0-9._-]{0,99}$/, { message: 'expected owner/name in lower case, e.g. acme/http-check' });

/** Semantic version, e.g. 1.2.3 or 1.2.3-rc.1. */
export const semverText = z
  .string()
  .regex(/^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/, { message: 'expected a semantic version such as 1.2.3' });

/** A plugin step type: `step.<name>`, never the name of a built-in step. */
const pluginStepType = z.string().regex(/^step\.[a-z][a-z0-9_]{1,62}$/, { message: 'expected step.<name> in lower case with underscores' });

/** A JSON Schema object describing a step's `config`. Unknown keys are always errors, whatever the schema says. */
const configSchema = z
  .looseObject({ type: z.literal('object') })
  .describe('JSON Schema (draft 2020-12 subset: type, properties, required, enum, items, minimum, maximum, pattern, default, description).');

const containerRuntime = z.strictObject({
  kind: z.literal('container'),
  /** The OCI image the runner runs, with the same sandbox as step.shell_exec. */
  image: z.string().min(1),
});

const remoteRuntime = z.strictObject({
  kind: z.literal('remote'),
  /** Started by the runner in the unpacked plugin folder; it serves flowyard.plugin.v1.StepService on $FLOWYARD_PLUGIN_ADDRESS. */
  command: z.array(z.string().min(1)).min(1).optional(),
  /** Or an already running plugin service: `unix:///path/to.sock` or `tcp://127.0.0.1:PORT`. */
  address: z
    .string()
    .regex(/^(unix:\/\/\/.+|tcp:\/\/[^/]+:\d+)$/, { message: 'expected unix:///path or tcp://host:port' })
    .optional(),
  transport: z.enum(['unix', 'tcp']).default('unix'),
  /** Strict typed mode: the protobuf message the plugin decodes its config into; engine-internal `_` keys are stripped first. */
  config_message: z.string().min(1).optional(),
});

export const pluginStepDef = z.strictObject({
  type: pluginStepType,
  description: z.string().min(1),
  config: configSchema,
  outputs: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.strictObject({ description: z.string(), fields: z.array(z.string()).optional() }))
    .default({}),
  runtime: z.discriminatedUnion('kind', [containerRuntime, remoteRuntime]),
});

/** A deploy provider's name as deploy.target's `provider` names it; `docker` is built in and cannot be provided. */
export const deployProviderName = z
  .string()
  .regex(/^[a-z][a-z0-9_]{1,40}$/, { message: 'expected a provider name in lower case with underscores, e.g. digitalocean' })
  .refine((name) => name !== 'docker', { message: 'docker is the built-in deploy provider; a plugin may not provide it' });

/**
 * A deploy provider (the runner's DeployProvider interface, served as flowyard.plugin.v1.DeployProviderService by the
 * plugin's remote runtime). `settings` is the JSON Schema of deploy.target's `settings` for it, strict like step configs;
 * a setting whose name ends in `_secret` names a secret, whose value the runner sends with each call.
 */
export const pluginDeployProviderDef = z.strictObject({
  name: deployProviderName,
  description: z.string().min(1),
  settings: configSchema,
  runtime: remoteRuntime.omit({ config_message: true }),
});

export const pluginManifestSchema = z
  .strictObject({
    name: pluginName,
    version: semverText,
    description: z.string().min(1),
    homepage: z.url().optional(),
    license: z.string().min(1),
    /** The Flowyard versions this plugin works with, as a semver range. */
    flowyard: z.string().min(1).default('*'),
    steps: z.array(pluginStepDef).default([]),
    deploy_providers: z.array(pluginDeployProviderDef).default([]),
  })
  .check((ctx) => {
    const { steps, deploy_providers: providers } = ctx.value;
    if (steps.length === 0 && providers.length === 0) {
      ctx.issues.push({ code: 'custom', path: ['steps'], message: 'a plugin provides at least one step type or deploy provider', input: ctx.value });
    }
    const names = providers.map((provider) => provider.name);
    names.forEach((name, i) => {
      if (names.indexOf(name) !== i) {
        ctx.issues.push({ code: 'custom', path: ['deploy_providers', i, 'name'], message: `deploy provider ${name} is declared twice`, input: name });
      }
    });
  });

export type PluginManifest = z.output<typeof pluginManifestSchema>;
export type PluginStepDef = z.output<typeof pluginStepDef>;
export type PluginRuntime = PluginStepDef['runtime'];
export type PluginDeployProviderDef = z.output<typeof pluginDeployProviderDef>;

/** Where the smallest real workflow of a plugin lives in its archive; the validation matrix runs it. */
export const MINIMAL_EXAMPLE_PATH = 'examples/minimal/config.yaml';

/** An installed plugin version as the engine sees it: what build and try-activate check plugin steps against. */
export interface InstalledPlugin {
  name: string;
  version: string;
  /** `sha256:<hex>` of the archive. */
  digest: string;
  manifest: PluginManifest;
}

/** What a published version pins, so a run uses exactly the plugins that were previewed. */
export interface PluginPin {
  name: string;
  version: string;
  digest: string;
}

/** What a built plugin step carries: its pinned plugin version and how the runner runs it (StepSpec.plugin). */
export interface PluginStepBinding extends PluginPin {
  runtime: PluginRuntime;
}

/** A step.deploy whose target's provider comes from a plugin carries this as StepSpec.plugin. */
export interface PluginDeployBinding extends PluginPin {
  runtime: PluginDeployProviderDef['runtime'] & { kind: 'remote' };
}
