import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Db } from '../../db/client.ts';
import type { AppDeps } from '../api/env.ts';
import { createArtifactStore } from '../services/artifacts/index.ts';
import { testEnvironmentConnection } from '../services/connection-test.ts';
import { DEFAULT_LEASE_MS } from '../services/runs.ts';
import { parseMaxBodyBytes } from '../api/middleware/body-limit.ts';
import { secretsKeyFrom } from '../services/secrets.ts';
import { createLocalEventBus, type EventBus } from '../services/events.ts';

/** The server secret: FLOWYARD_SECRET_KEY, or a random one kept in the data folder (mode 0600). */
export function serverSecret(dataDir: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.FLOWYARD_SECRET_KEY) return env.FLOWYARD_SECRET_KEY;
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'secret.key');
  if (!existsSync(file)) {
    writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' });
  }
  chmodSync(file, 0o600);
  return readFileSync(file, 'utf8').trim();
}

export interface DepsOptions {
  db: Db;
  dataDir: string;
  publicUrl: string;
  adminToken?: string;
  leaseMs?: number;
  env?: NodeJS.ProcessEnv;
  /** The in-process bus unless given. */
  events?: EventBus;
}

/** Everything the API needs, from the data folder and the environment; checks the artifact store answers. */
export async function buildDeps(options: DepsOptions): Promise<AppDeps> {
  const env = options.env ?? process.env;
  const secret = serverSecret(options.dataDir, env);
  const artifacts = createArtifactStore({ artifactsUrl: env.ARTIFACTS_URL, dataDir: options.dataDir, publicUrl: options.publicUrl, signingKey: `artifacts:${secret}`, env });
  await artifacts.check();
  return {
    db: options.db,
    secretsKey: await secretsKeyFrom(secret),
    artifacts,
    events: options.events ?? createLocalEventBus(),
    localBlobs: artifacts.kind === 'local' ? artifacts : undefined,
    testConnection: testEnvironmentConnection,
    config: {
      publicUrl: options.publicUrl,
      adminToken: options.adminToken,
      secureCookies: options.publicUrl.startsWith('https:'),
      leaseMs: options.leaseMs ?? DEFAULT_LEASE_MS,
      maxBodyBytes: parseMaxBodyBytes(env.FLOWYARD_MAX_BODY_BYTES),
      trustProxy: env.FLOWYARD_TRUST_PROXY === '1',
    },
  };
}
