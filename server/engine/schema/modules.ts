import { z } from 'zod';
import { duration, secretName } from './common.ts';

export interface ModuleTypeDef {
  type: string;
  description: string;
  config: z.ZodObject;
}

/** The provider names upstream's step.deploy knows; only docker is built in, the others come from plugins. */
export const deployProviders = ['docker', 'aws_ecs', 'gcp_cloud_run', 'azure_container_apps', 'digitalocean'] as const;

/** The plugin that provides each of upstream's cloud providers: what a workflow naming one without it is told to install. */
export const cloudProviderPlugins: Readonly<Record<Exclude<(typeof deployProviders)[number], 'docker'>, string>> = {
  aws_ecs: 'flowyard/aws-ecs',
  gcp_cloud_run: 'flowyard/gcp-cloud-run',
  azure_container_apps: 'flowyard/azure-container-apps',
  digitalocean: 'flowyard/digitalocean',
};

/**
 * deploy.target's config, named so the runner's deploy providers take their type from it. `provider` is docker
 * (built in) or a provider an installed plugin declares; the build checks the name and `settings` against it.
 */
export const deployTargetConfig = z.strictObject({
  provider: z
    .string()
    .regex(/^[a-z][a-z0-9_]{1,40}$/, { message: 'expected docker or the name of a plugin deploy provider (lower case, underscores)' })
    .default('docker')
    .describe('docker (built in) or a deploy provider of a plugin listed under requires.plugins, e.g. digitalocean.'),
  docker_host: z.string().optional().describe('Docker engine URL (unix:// or tcp://); the runner engine otherwise.'),
  region: z.string().optional(),
  settings: z.record(z.string(), z.unknown()).optional().describe("Provider-specific settings, checked against the provider plugin's settings schema."),
});

export const moduleTypes: readonly ModuleTypeDef[] = [
  {
    type: 'artifact.store',
    description: 'Where artifacts are kept: the built-in store or an S3-compatible bucket.',
    config: z.strictObject({
      backend: z.enum(['local', 's3']).default('local'),
      bucket: z.string().optional().describe('S3 bucket (backend s3).'),
      endpoint: z.url().optional().describe('S3 endpoint URL (backend s3).'),
      region: z.string().optional(),
      prefix: z.string().optional().describe('Key prefix inside the bucket.'),
      retention: duration.optional().describe('Delete artifacts older than this.'),
    }),
  },
  {
    type: 'docker.registry',
    description: 'A container registry that steps push to and pull from.',
    config: z.strictObject({
      url: z.string().min(1).describe('Registry host[:port], e.g. 127.0.0.1:5000.'),
      username: z.string().optional(),
      password_secret: secretName.optional().describe('Name of the secret holding the password.'),
      insecure: z.boolean().default(false).describe('Allow plain HTTP.'),
    }),
  },
  {
    type: 'deploy.target',
    description: 'A place that deployments run: a Docker engine or a cloud provider.',
    config: deployTargetConfig,
  },
];

/**
 * Module types Flowyard knows of but does not run yet: a workflow naming one gets this
 * reason at the module's `type` instead of a run that silently never uses it.
 */
export const unsupportedModuleTypes: ReadonlyMap<string, string> = new Map([
  ['notify.webhook', 'notify.webhook is not supported yet: Flowyard sends no run notifications; call a URL from a step.shell_exec step (e.g. curl) instead'],
]);

export const moduleTypesByName: ReadonlyMap<string, ModuleTypeDef> = new Map(moduleTypes.map((def) => [def.type, def]));
