import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Db } from '../../db/client.ts';
import type { AppDeps } from '../api/env.ts';
import { DEFAULT_LEASE_MS } from '../services/runs.ts';
import { secretsKeyFrom } from '../services/secrets.ts';

/** The server secret: FLOWYARD_SECRET_KEY, or a random one kept in the data folder (mode 0600). */
export function serverSecret(dataDir: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.FLOWYARD_SECRET_KEY) return env.FLOWYARD_SECRET_KEY;
  const file = join(dataDir, 'secret.key');
  if (!existsSync(file)) {
    writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' });
  }
  chmodSync(file, 0o600);
  return readFileSync(file, 'utf8').trim();
}

export async function buildDeps(options: { db: Db; dataDir: string; publicUrl: string; adminToken?: string; leaseMs?: number }): Promise<AppDeps> {
  const secret = serverSecret(options.dataDir);
  return {
    db: options.db,
    secretsKey: await secretsKeyFrom(secret),
    config: {
      publicUrl: options.publicUrl,
      adminToken: options.adminToken,
      secureCookies: options.publicUrl.startsWith('https:'),
      leaseMs: options.leaseMs ?? DEFAULT_LEASE_MS,
    },
  };
}
