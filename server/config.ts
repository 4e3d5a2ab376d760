/**
 * The server's configuration: `loadConfig(env, flags)` reads every server setting of the one list in
 * runners/protocol/settings.ts (documented in docs/configuration.md) and returns one checked object; a bad
 * value throws a ConfigError naming the variable or flag.
 */
import { resolve } from 'node:path';
import { ConfigError, readSettings } from '../runners/protocol/settings.ts';
import { DEFAULT_LEASE_MS } from './services/runs.ts';

export { ConfigError };

/** Settings the API needs at run time (AppDeps.config). */
export interface ServerConfig {
  /** Public base URL used in printed links and the JSON Schema `$id`, e.g. `http://127.0.0.1:8080`. */
  publicUrl: string;
  /** When set, accepted as the first admin's API token (automation, tests). */
  adminToken?: string;
  /** Cookies get `Secure` when the public URL is https. */
  secureCookies: boolean;
  /** How long a runner's claim on a job lasts without renewal; a lapsed lease means the runner is lost. */
  leaseMs: number;
  /** Largest request body accepted (artifact uploads excepted); FLOWYARD_MAX_BODY_BYTES, 1 MiB by default. */
  maxBodyBytes?: number;
  /** Trust X-Forwarded-For for the client address (FLOWYARD_TRUST_PROXY=1): only behind a proxy that sets it. */
  trustProxy?: boolean;
  /** FLOWYARD_PLUGIN_REGISTRIES: remote plugin registry base URLs, in order of preference. */
  pluginRegistries?: string[];
  /** FLOWYARD_PLUGIN_REGISTRY_TTL in ms: how long a registry index is used before it is revalidated. */
  pluginRegistryTtlMs?: number;
  /** FLOWYARD_METRICS_TOKEN: the Bearer token that reads /metrics; unset: admins only. */
  metricsToken?: string;
}

/** Everything a server process is configured with: the API's settings and the process's own. */
export interface Config {
  server: ServerConfig;
  port: number;
  host: string;
  /** Absolute. */
  dataDir: string;
  databaseUrl: string;
  databaseAuthToken?: string;
  /** FLOWYARD_SECRET_KEY; unset: a random key kept in the data folder (server/cli/deps.ts). */
  secretKey?: string;
  uiDir?: string;
  /** ARTIFACTS_URL (an s3:// URL); unset: files under the data folder. */
  artifactsUrl?: string;
  /** The AWS_* variables the S3 store reads. */
  s3Env: Record<string, string | undefined>;
  /** False with `serve --no-runner`. */
  embeddedRunner: boolean;
  /** FLOWYARD_LOG_LEVEL: the least severe JSON log line written. */
  logLevel: string;
  /** FLOWYARD_PUBSUB_URL (redis://...): events cross API replicas through Redis; unset: they stay in the process. */
  pubsubUrl?: string;
}

const SERVER_SETTINGS = [
  'port',
  'host',
  'dataDir',
  'databaseUrl',
  'databaseAuthToken',
  'publicUrl',
  'adminToken',
  'secretKey',
  'leaseMs',
  'maxBodyBytes',
  'trustProxy',
  'uiDir',
  'pluginRegistries',
  'pluginRegistryTtl',
  'artifactsUrl',
  'awsAccessKeyId',
  'awsSecretAccessKey',
  'awsSessionToken',
  'awsRegion',
  'noRunner',
  'metricsToken',
  'logLevel',
  'pubsubUrl',
] as const;

/** `flags` are the parsed command-line options by flag name (`port`, `data`, `no-runner`, ...); they win over the environment. */
export function loadConfig(env: Record<string, string | undefined>, flags: Record<string, unknown> = {}): Config {
  const s = readSettings(SERVER_SETTINGS, env, flags);
  const port = s.port ?? 8080;
  const host = s.host ?? '127.0.0.1';
  const dataDir = resolve(s.dataDir ?? './data');
  const publicUrl = s.publicUrl ?? defaultPublicUrl(host, port);
  return {
    server: {
      publicUrl,
      adminToken: s.adminToken,
      secureCookies: publicUrl.startsWith('https:'),
      leaseMs: s.leaseMs ?? DEFAULT_LEASE_MS,
      maxBodyBytes: s.maxBodyBytes,
      trustProxy: s.trustProxy ?? false,
      pluginRegistries: s.pluginRegistries ?? [],
      pluginRegistryTtlMs: (s.pluginRegistryTtl ?? 300) * 1000,
      metricsToken: s.metricsToken,
    },
    port,
    host,
    dataDir,
    databaseUrl: s.databaseUrl ?? `file:${dataDir}/flowyard.db`,
    databaseAuthToken: s.databaseAuthToken,
    secretKey: s.secretKey,
    uiDir: s.uiDir,
    artifactsUrl: s.artifactsUrl,
    s3Env: { AWS_ACCESS_KEY_ID: s.awsAccessKeyId, AWS_SECRET_ACCESS_KEY: s.awsSecretAccessKey, AWS_SESSION_TOKEN: s.awsSessionToken, AWS_REGION: s.awsRegion },
    embeddedRunner: !s.noRunner,
    logLevel: s.logLevel ?? 'info',
    pubsubUrl: s.pubsubUrl,
  };
}

/** The URL the server is reached at when FLOWYARD_PUBLIC_URL is unset; IPv6 hosts in brackets. */
export function defaultPublicUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
