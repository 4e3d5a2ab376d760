import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Db } from '../../db/client.ts';
import type { AppDeps } from '../api/env.ts';
import { createArtifactStore } from '../services/artifacts/index.ts';
import { testEnvironmentConnection } from '../services/connection-test.ts';
import { attachLogArchive } from '../services/log-archive-read.ts';
import { secretsKeyFrom } from '../services/secrets.ts';
import { loadConfig, type Config } from '../config.ts';
import { createLocalEventBus, type EventBus } from '../services/events.ts';
import { createLogger } from '../services/logger.ts';
import { createServerMetrics } from '../services/metrics.ts';

/** The server secret: FLOWYARD_SECRET_KEY, or a random one kept in the data folder (mode 0600). */
export function serverSecret(dataDir: string, config: Pick<Config, 'secretKey'>): string {
  if (config.secretKey) return config.secretKey;
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'secret.key');
  if (!existsSync(file)) {
    writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' });
  }
  chmodSync(file, 0o600);
  return readFileSync(file, 'utf8').trim();
}

/** Everything the API needs, from the loaded configuration; checks the artifact store answers. */
export async function depsFromConfig(db: Db, config: Config, events: EventBus = createLocalEventBus()): Promise<AppDeps> {
  const secret = serverSecret(config.dataDir, config);
  const artifacts = createArtifactStore({
    artifactsUrl: config.artifactsUrl,
    dataDir: config.dataDir,
    publicUrl: config.server.publicUrl,
    signingKey: `artifacts:${secret}`,
    env: config.s3Env,
  });
  await artifacts.check();
  attachLogArchive(db, artifacts);
  return {
    db,
    secretsKey: await secretsKeyFrom(secret),
    artifacts,
    events,
    localBlobs: artifacts.kind === 'local' ? artifacts : undefined,
    testConnection: testEnvironmentConnection,
    config: config.server,
    metrics: createServerMetrics(db, events),
    logger: createLogger(config.logLevel, 'serve'),
  };
}

export interface DepsOptions {
  db: Db;
  dataDir: string;
  publicUrl: string;
  adminToken?: string;
  leaseMs?: number;
  env?: Record<string, string | undefined>;
  /** The bus services publish on; a new in-process one by default. */
  events?: EventBus;
}

/** Deps for an API in this process (tests): the settings of `env`, with the data folder, URL, admin token and lease given here. */
export async function buildDeps(options: DepsOptions): Promise<AppDeps> {
  const config = loadConfig(options.env ?? process.env, { data: options.dataDir });
  const { publicUrl, adminToken } = options;
  const server = { ...config.server, publicUrl, adminToken, secureCookies: publicUrl.startsWith('https:'), leaseMs: options.leaseMs ?? config.server.leaseMs };
  return depsFromConfig(options.db, { ...config, server }, options.events);
}
