import type { Db } from '../../db/client.ts';
import { SecretMasker } from '../engine/masker.ts';
import type { Workflow } from '../engine/schema/workflow.ts';
import { deploySteps } from '../engine/environment-access.ts';
import { environmentSecrets } from './environments.ts';
import { workflowSecrets } from './secrets.ts';

/** The secret values a run of this pipeline can reach: the workflow's and those of the environments it deploys to. */
export async function runSecretValues(db: Db, key: CryptoKey, workflowId: string, workflow: Workflow, pipeline: string): Promise<string[]> {
  const environments = await environmentSecrets(
    db,
    key,
    deploySteps(workflow, pipeline).map((step) => step.environment),
  );
  return [...Object.values(await workflowSecrets(db, key, workflowId)), ...Object.values(environments).flatMap((secrets) => Object.values(secrets))];
}

const CACHE_MS = 60_000;
const CACHE_MAX = 1000;
const cache = new Map<string, { masker: SecretMasker; expires: number }>();

/** A run's masker, cached for a minute per job so step reports do not decrypt on every call. */
export async function cachedMasker(cacheKey: string, load: () => Promise<string[]>): Promise<SecretMasker> {
  const hit = cache.get(cacheKey);
  if (hit && hit.expires > Date.now()) return hit.masker;
  const masker = new SecretMasker(await load());
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(cacheKey, { masker, expires: Date.now() + CACHE_MS });
  return masker;
}

export function forgetMasker(cacheKey: string): void {
  cache.delete(cacheKey);
}
