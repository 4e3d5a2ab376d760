/**
 * Every setting of Flowyard, server and runner alike, in one declarative list: where it is read from (an
 * environment variable, a flag or both), its default, its type and meaning, and the zod schema that turns
 * the text into a value. It lives here because runners/protocol is the one folder both the server and the
 * runner may import (.dependency-cruiser.cjs); server/config.ts (loadConfig) reads the server's settings
 * from it, runners/daemon/config.ts (loadRunnerSettings) the runner's, and scripts/generate-config-docs.ts
 * renders it into docs/configuration.md. Zod and nothing else, like the rest of this folder.
 */
import { z } from 'zod';

/** Which part of Flowyard reads a setting; `edge` is server/edge.ts on a Workers runtime. */
export type SettingUser = 'serve' | 'admin' | 'edge' | 'runner' | 'cli';

export interface Setting {
  env?: string;
  flag?: string;
  /** As shown in the docs; `type` reads "whole number", "text", "URL", ... */
  type: string;
  /** The value used when neither the flag nor the variable is set, as documented; undefined: none. */
  default?: string;
  meaning: string;
  usedBy: readonly SettingUser[];
  /** Parses the raw text (or a boolean / list for switches); its message completes "NAME must ...". */
  schema: z.ZodType;
}

/** `message` completes "NAME must be ...", e.g. "a whole number of milliseconds ≥ 1000". */
const wholeNumber = (message: string, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d+$/, `must be ${message}`)
    .transform(Number)
    .refine((n) => Number.isSafeInteger(n) && n >= min && n <= max, `must be ${message}`);
const text = z.string();
const httpUrl = z.string().regex(/^https?:\/\/[^\s/]+\S*$/, 'must be an http:// or https:// URL');
const switchValue = z.enum(['0', '1'], 'must be 1 (on) or 0 (off)').transform((v) => v === '1');
const flagSwitch = z.boolean();
const dockerHosts = z.array(z.string().regex(/^(unix|tcp):\/\/\S+$/, 'must be a unix:// or tcp:// URL'));

const SERVER: readonly SettingUser[] = ['serve', 'admin', 'edge'];

export const SETTINGS = {
  port: {
    env: 'PORT',
    flag: 'port',
    type: 'port number',
    default: '8080',
    meaning: 'TCP port the API and web UI listen on (0 picks a free one).',
    usedBy: ['serve'],
    schema: wholeNumber('a port number from 0 to 65535', 0, 65535),
  },
  host: {
    env: 'HOST',
    flag: 'host',
    type: 'host name or address',
    default: '127.0.0.1',
    meaning: 'Address the API and web UI listen on.',
    usedBy: ['serve'],
    schema: text.min(1, 'must not be empty'),
  },
  dataDir: {
    env: 'FLOWYARD_DATA',
    flag: 'data',
    type: 'folder',
    default: './data',
    meaning: "Data folder: the SQLite database, `secret.key`, built-in artifacts and the embedded runner's `runner.json`.",
    usedBy: ['serve', 'admin'],
    schema: text.min(1, 'must not be empty'),
  },
  databaseUrl: {
    env: 'DATABASE_URL',
    type: 'libSQL URL',
    default: 'file:<data>/flowyard.db',
    meaning:
      'The database: a `file:` path, or a libSQL server or Turso over the network (Hrana over HTTP): `libsql://` (HTTPS), `https://`, `http://` (a server on a private network) or `ws(s)://`; a remote URL is required on the edge and on Deno (docs/deploy.md).',
    usedBy: SERVER,
    schema: text,
  },
  databaseAuthToken: {
    env: 'DATABASE_AUTH_TOKEN',
    type: 'secret text',
    meaning: 'Auth token for a remote libSQL database (Turso: `turso db tokens create`; a libSQL server: a JWT its key verifies).',
    usedBy: SERVER,
    schema: text,
  },
  pubsubUrl: {
    env: 'FLOWYARD_PUBSUB_URL',
    type: 'redis:// URL',
    default: 'events stay in the process',
    meaning:
      'Redis (or Valkey) pub/sub that carries events between API replicas sharing one database: runner wake-ups, logs to SSE viewers, cancels, gate decisions, co-editing (docs/deploy.md).',
    usedBy: ['serve'],
    schema: z.string().regex(/^rediss?:\/\/[^\s]+$/, 'must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379'),
  },
  publicUrl: {
    env: 'FLOWYARD_PUBLIC_URL',
    type: 'URL',
    default: 'http://<host>:<port>',
    meaning: 'Base URL users and runners reach the server at; https makes cookies `Secure` (required on the edge).',
    usedBy: ['serve', 'edge'],
    schema: httpUrl,
  },
  adminToken: {
    env: 'FLOWYARD_ADMIN_TOKEN',
    type: 'secret text',
    meaning: "Accepted as the first admin's API token (automation, tests).",
    usedBy: ['serve', 'edge'],
    schema: text,
  },
  secretKey: {
    env: 'FLOWYARD_SECRET_KEY',
    type: 'secret text',
    default: 'random, kept in <data>/secret.key',
    meaning: 'Server secret: encrypts stored secrets and signs artifact URLs (required on the edge).',
    usedBy: SERVER,
    schema: text,
  },
  leaseMs: {
    env: 'FLOWYARD_LEASE_MS',
    type: 'whole number (ms)',
    default: '30000',
    meaning: "How long a runner's claim on a job lasts without renewal; a lapsed lease means the runner is lost.",
    usedBy: ['serve', 'edge'],
    schema: wholeNumber('a whole number of milliseconds ≥ 1000', 1000),
  },
  maxBodyBytes: {
    env: 'FLOWYARD_MAX_BODY_BYTES',
    type: 'whole number (bytes)',
    default: '1048576',
    meaning: 'Largest request body accepted (artifact uploads excepted).',
    usedBy: ['serve', 'edge'],
    schema: wholeNumber('a whole number of bytes ≥ 1', 1),
  },
  trustProxy: {
    env: 'FLOWYARD_TRUST_PROXY',
    type: '1 or 0',
    default: '0',
    meaning: 'Take the client address from X-Forwarded-For: only behind a proxy that sets it.',
    usedBy: ['serve', 'edge'],
    schema: switchValue,
  },
  pluginValidationCron: {
    env: 'FLOWYARD_PLUGIN_VALIDATION_CRON',
    type: 'cron expression (UTC)',
    default: '0 3 * * 1',
    meaning: "When the validation matrix runs every installed plugin's minimal example (weekly by default: Mondays 03:00 UTC).",
    usedBy: ['serve'],
    schema: z
      .string()
      .trim()
      .regex(/^\S+(\s+\S+){4,5}$/, 'must be a cron expression of 5 or 6 fields, e.g. "0 3 * * 1"'),
  },
  uiDir: { env: 'FLOWYARD_UI_DIR', type: 'folder', default: 'build/ of the package', meaning: 'Built web UI to serve.', usedBy: ['serve'], schema: text },
  pluginRegistries: {
    env: 'FLOWYARD_PLUGIN_REGISTRIES',
    type: 'comma-separated URLs',
    default: 'none',
    meaning:
      "Remote plugin registries (`{base}/index.json` and `{base}/plugins/...`, another Flowyard's `/registry` or static files in a bucket), searched in this order after the installed plugins (docs/plugins.md).",
    usedBy: ['serve', 'edge'],
    schema: z
      .string()
      .transform((value) =>
        value
          .split(',')
          .map((url) => url.trim())
          .filter(Boolean),
      )
      .pipe(z.array(httpUrl)),
  },
  pluginRegistryTtl: {
    env: 'FLOWYARD_PLUGIN_REGISTRY_TTL',
    type: 'whole number (seconds)',
    default: '300',
    meaning: 'How long a remote registry index is used before it is revalidated (If-None-Match; a 304 keeps it).',
    usedBy: ['serve', 'edge'],
    schema: wholeNumber('a whole number of seconds from 0 to 86400', 0, 86400),
  },
  artifactsUrl: {
    env: 'ARTIFACTS_URL',
    type: 's3:// URL',
    default: 'files under <data>/artifacts',
    meaning: 'Artifact store: `s3://bucket?endpoint=...&region=...&forcePathStyle=true` for S3, R2 or MinIO (required on the edge).',
    usedBy: ['serve', 'edge'],
    schema: z
      .string()
      .regex(/^s3:\/\//, 'must be an s3:// URL (s3://bucket?endpoint=...&region=...&forcePathStyle=true), or unset to keep artifacts under the data folder'),
  },
  awsAccessKeyId: { env: 'AWS_ACCESS_KEY_ID', type: 'text', meaning: 'S3 access key (with ARTIFACTS_URL).', usedBy: ['serve', 'edge'], schema: text },
  awsSecretAccessKey: {
    env: 'AWS_SECRET_ACCESS_KEY',
    type: 'secret text',
    meaning: 'S3 secret key (with ARTIFACTS_URL).',
    usedBy: ['serve', 'edge'],
    schema: text,
  },
  awsSessionToken: {
    env: 'AWS_SESSION_TOKEN',
    type: 'secret text',
    meaning: 'S3 session token, for temporary credentials.',
    usedBy: ['serve', 'edge'],
    schema: text,
  },
  awsRegion: {
    env: 'AWS_REGION',
    type: 'text',
    default: 'us-east-1',
    meaning: 'S3 region when ARTIFACTS_URL names none.',
    usedBy: ['serve', 'edge'],
    schema: text,
  },
  metricsToken: {
    env: 'FLOWYARD_METRICS_TOKEN',
    type: 'secret text',
    meaning: 'Bearer token a Prometheus scraper sends to read `/metrics`; unset: only signed-in admins may read it (docs/operations.md).',
    usedBy: ['serve', 'edge'],
    schema: text.min(16, 'must be at least 16 characters'),
  },
  logLevel: {
    env: 'FLOWYARD_LOG_LEVEL',
    type: 'fatal, error, warn, info, debug, trace or silent',
    default: 'info',
    meaning: 'Least severe structured (JSON) log line written to stderr; `debug` adds one line per HTTP request.',
    usedBy: ['serve', 'runner'],
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'must be one of fatal, error, warn, info, debug, trace, silent'),
  },
  metricsPort: {
    flag: 'metrics-port',
    type: 'port number',
    meaning: "Serve the runner's Prometheus metrics at `http://<metrics-host>:<port>/metrics` (0 picks a free port); unset: no metrics endpoint.",
    usedBy: ['runner'],
    schema: wholeNumber('a port number from 0 to 65535', 0, 65535),
  },
  metricsHost: {
    flag: 'metrics-host',
    type: 'host name or address',
    default: '127.0.0.1',
    meaning: "Address the runner's metrics endpoint listens on (loopback: only this host can scrape it).",
    usedBy: ['runner'],
    schema: text.min(1, 'must not be empty'),
  },
  noRunner: { flag: 'no-runner', type: 'switch', default: 'off', meaning: 'Do not start the embedded runner.', usedBy: ['serve'], schema: flagSwitch },
  allowHostNetwork: {
    flag: 'allow-host-network',
    type: 'switch',
    default: 'off',
    meaning: 'Runner policy: steps and builds may use `network_mode: host`.',
    usedBy: ['serve', 'runner'],
    schema: flagSwitch,
  },
  allowDockerHosts: {
    flag: 'allow-docker-host',
    type: 'unix:// or tcp:// URL, repeatable',
    default: 'none',
    meaning: 'Runner policy: a Docker engine URL a deploy target may name as `docker_host`.',
    usedBy: ['serve', 'runner'],
    schema: dockerHosts,
  },
  allowBindMounts: {
    flag: 'allow-bind-mounts',
    type: 'switch',
    default: 'off',
    meaning: 'Runner policy: containers may have host paths mounted.',
    usedBy: ['serve', 'runner'],
    schema: flagSwitch,
  },
  allowEgress: {
    flag: 'allow-egress',
    type: 'switch',
    default: 'off',
    meaning: 'Runner policy: the per-run network of `network_mode: bridge` reaches the internet.',
    usedBy: ['serve', 'runner'],
    schema: flagSwitch,
  },
  runnerUrl: { flag: 'url', type: 'URL', meaning: 'The Flowyard server the runner takes jobs from.', usedBy: ['runner'], schema: httpUrl },
  registrationToken: { flag: 'token', type: 'secret text', meaning: 'One-time registration token (first start only).', usedBy: ['runner'], schema: text },
  runnerName: {
    flag: 'name',
    type: 'text',
    default: 'the host name',
    meaning: 'Runner name shown in the UI.',
    usedBy: ['runner'],
    schema: text.min(1, 'must not be empty'),
  },
  runnerLabels: {
    flag: 'labels',
    type: 'comma-separated list',
    default: 'linux,docker',
    meaning: 'Labels jobs select runners by.',
    usedBy: ['runner'],
    schema: text,
  },
  capacity: {
    flag: 'capacity',
    type: 'whole number',
    default: '2',
    meaning: 'Jobs the runner runs at once.',
    usedBy: ['runner'],
    schema: wholeNumber('a whole number from 1 to 64', 1, 64),
  },
  runnerConfig: {
    flag: 'config',
    type: 'file',
    default: '~/.flowyard/runner.json',
    meaning: 'Where the runner keeps its id and token (mode 0600).',
    usedBy: ['runner'],
    schema: text.min(1, 'must not be empty'),
  },
  dockerHost: {
    env: 'DOCKER_HOST',
    type: 'URL',
    default: 'unix:///var/run/docker.sock',
    meaning: 'Docker engine of the runner (read by the Docker client, with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH).',
    usedBy: ['serve', 'runner'],
    schema: text,
  },
  noColor: { env: 'NO_COLOR', type: 'any text', meaning: 'Set to anything: no colour in CLI output (https://no-color.org).', usedBy: ['cli'], schema: text },
} as const satisfies Record<string, Setting>;

export type SettingKey = keyof typeof SETTINGS;
export type SettingValues<K extends SettingKey> = { [P in K]?: z.output<(typeof SETTINGS)[P]['schema']> };

/** A bad setting: the message names the variable or flag and the value, fit to print as one line. */
export class ConfigError extends Error {}

/**
 * Reads the given settings, a flag taking precedence over its variable; an unset or empty value stays
 * undefined (the caller supplies defaults that depend on other settings). The values are checked as one
 * zod object; the first problem is thrown as a ConfigError naming where the value came from.
 */
export function readSettings<K extends SettingKey>(
  keys: readonly K[],
  env: Record<string, string | undefined>,
  flags: Record<string, unknown> = {},
): SettingValues<K> {
  const raw: Record<string, unknown> = {};
  const source: Record<string, string> = {};
  for (const key of keys) {
    const setting: Setting = SETTINGS[key];
    const fromFlag = setting.flag === undefined ? undefined : flags[setting.flag];
    const fromEnv = setting.env === undefined ? undefined : env[setting.env];
    const value = fromFlag ?? (fromEnv === '' ? undefined : fromEnv);
    if (value === undefined) continue;
    raw[key] = value;
    source[key] = fromFlag !== undefined ? `--${setting.flag}` : setting.env!;
  }
  const shape = Object.fromEntries(keys.map((key) => [key, SETTINGS[key].schema.optional()]));
  const parsed = z.object(shape).safeParse(raw);
  if (parsed.success) return parsed.data as SettingValues<K>;
  const issue = parsed.error.issues[0]!;
  const key = String(issue.path[0]);
  const value = issue.path.length > 1 ? (raw[key] as unknown[])[issue.path[1] as number] : raw[key];
  throw new ConfigError(`${source[key]} ${issue.message}, got ${JSON.stringify(value)}`);
}
