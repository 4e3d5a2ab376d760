import type { Environment, EnvironmentInput, EnvironmentProvider } from '$lib/api/types';

/** `plugin`: the cloud providers deploy through a plugin that runs on a runner (docs/deployments.md). */
export const PROVIDERS: ReadonlyArray<{ id: EnvironmentProvider; label: string; plugin?: string }> = [
  { id: 'docker', label: 'Docker engine' },
  { id: 'registry', label: 'Container registry' },
  { id: 's3', label: 'S3 bucket' },
  { id: 'aws_ecs', label: 'AWS ECS', plugin: 'flowyard/aws-ecs' },
  { id: 'gcp_cloud_run', label: 'Google Cloud Run', plugin: 'flowyard/gcp-cloud-run' },
  { id: 'azure_container_apps', label: 'Azure Container Apps', plugin: 'flowyard/azure-container-apps' },
  { id: 'digitalocean', label: 'DigitalOcean', plugin: 'flowyard/digitalocean' },
];

export const providerLabel = (id: EnvironmentProvider) => PROVIDERS.find((p) => p.id === id)?.label ?? id;
/** The plugin a provider comes from; undefined for the ones the server knows itself. */
export const providerPlugin = (id: EnvironmentProvider) => PROVIDERS.find((p) => p.id === id)?.plugin;
export const environmentHref = (id: string) => `/environments/${encodeURIComponent(id)}`;

/** The secrets an S3 environment signs its requests with. */
export const S3_SECRETS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'];

/** The form's view of `config` (and `region`) for every provider. */
export interface ConfigFields {
  docker_host: string;
  url: string;
  insecure: boolean;
  username: string;
  password_secret: string;
  bucket: string;
  endpoint: string;
  region: string;
  forcePathStyle: boolean;
  /** Query parameters of an S3 URL this form does not edit (prefix, checksum), kept as they were. */
  s3Extra: string;
}

const S3_PARAMS = ['endpoint', 'region', 'forcePathStyle'];
const text = (value: unknown) => (typeof value === 'string' ? value : '');

/** `s3://bucket?endpoint=...&region=...`: its bucket and parameters. */
function parseS3Url(url: string) {
  const match = /^s3:\/\/([^/?#]*)[^?#]*(?:\?([^#]*))?/.exec(url);
  return { bucket: match?.[1] ?? '', params: new URLSearchParams(match?.[2] ?? '') };
}

/** Encodes a query value, leaving `:` and `/` readable (both are allowed in a query). */
const encodeValue = (value: string) => encodeURIComponent(value).replace(/%3A/gi, ':').replace(/%2F/gi, '/');

export function s3UrlOf(fields: ConfigFields): string {
  const params: Array<[string, string]> = [
    ['endpoint', fields.endpoint.trim()],
    ['region', fields.region.trim()],
    ['forcePathStyle', fields.forcePathStyle ? 'true' : ''],
    ...new URLSearchParams(fields.s3Extra),
  ];
  const query = params.filter(([, value]) => value).map(([key, value]) => `${key}=${encodeValue(value)}`);
  return `s3://${fields.bucket.trim()}${query.length ? `?${query.join('&')}` : ''}`;
}

export function fieldsOf(environment?: Environment): ConfigFields {
  const config = environment?.config ?? {};
  const s3 = parseS3Url(environment?.provider === 's3' ? text(config.url) : '');
  const extra = new URLSearchParams([...s3.params].filter(([key]) => !S3_PARAMS.includes(key)));
  return {
    docker_host: text(config.docker_host),
    url: environment?.provider === 'registry' ? text(config.url) : '',
    insecure: config.insecure === true,
    username: text(config.username),
    password_secret: text(config.password_secret),
    bucket: s3.bucket,
    endpoint: s3.params.get('endpoint') ?? '',
    region: s3.params.get('region') ?? environment?.region ?? '',
    forcePathStyle: s3.params.get('forcePathStyle') === 'true',
    s3Extra: extra.toString(),
  };
}

/**
 * `region` and `config` for the API. While the provider stays the same, config keys this form does not
 * edit are kept; empty fields are left out. Docker and registry have no region field: theirs is kept.
 */
export function settingsOf(provider: EnvironmentProvider, fields: ConfigFields, original?: Environment): Pick<EnvironmentInput, 'region' | 'config'> {
  const same = original?.provider === provider;
  const own: Record<string, unknown> =
    provider === 'docker'
      ? { docker_host: fields.docker_host.trim() }
      : provider === 'registry'
        ? { url: fields.url.trim(), insecure: fields.insecure, username: fields.username.trim(), password_secret: fields.password_secret.trim() }
        : provider === 's3'
          ? { url: s3UrlOf(fields) }
          : {};
  const config = Object.fromEntries(Object.entries({ ...(same ? original.config : {}), ...own }).filter(([, value]) => value !== '' && value !== false));
  const keepsRegion = provider === 'docker' || provider === 'registry';
  return { region: keepsRegion ? (same ? original.region : null) : fields.region.trim() || null, config };
}
