import { and, desc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { deployments, environments, runs, runSteps, users, workflows, type environmentProviders } from '../../db/schema.ts';
import { ApiError, notFound } from './errors.ts';
import { decrypt, encrypt } from './secrets.ts';
import type { EnvironmentProtection } from '../engine/environment-access.ts';

export type EnvironmentProvider = (typeof environmentProviders)[number];

export interface EnvironmentInput {
  name: string;
  provider: EnvironmentProvider;
  region?: string | null;
  config: Record<string, unknown>;
  /** NAME → value to set, or null to delete; names not given are kept. */
  secrets?: Record<string, string | null>;
  /** Protection, set by an admin; left out on update: kept as it is (new environments start protected). */
  protected?: boolean;
  allowedWorkflows?: string[];
  approvers?: string[];
}

const protection = (input: EnvironmentInput) => ({
  ...(input.protected !== undefined ? { protected: input.protected } : {}),
  ...(input.allowedWorkflows !== undefined ? { allowedWorkflows: [...new Set(input.allowedWorkflows)] } : {}),
  ...(input.approvers !== undefined ? { approvers: [...new Set(input.approvers)] } : {}),
});

async function readSecrets(key: CryptoKey, stored: string): Promise<Record<string, string>> {
  return stored ? (JSON.parse(await decrypt(key, stored)) as Record<string, string>) : {};
}

/** What the API shows: everything but secret values (names only). */
async function view(key: CryptoKey, row: typeof environments.$inferSelect) {
  const { secrets, ...rest } = row;
  return { ...rest, secretNames: Object.keys(await readSecrets(key, secrets)).sort() };
}

export async function listEnvironments(db: Db, key: CryptoKey) {
  const rows = await db.select().from(environments).orderBy(environments.name);
  return Promise.all(rows.map((row) => view(key, row)));
}

export async function getEnvironmentRow(db: Db, id: string) {
  const [row] = await db.select().from(environments).where(eq(environments.id, id));
  if (!row) throw notFound(`environment ${id}`);
  return row;
}

export async function getEnvironment(db: Db, key: CryptoKey, id: string) {
  return view(key, await getEnvironmentRow(db, id));
}

export async function createEnvironment(db: Db, key: CryptoKey, input: EnvironmentInput) {
  const [taken] = await db.select({ id: environments.id }).from(environments).where(eq(environments.name, input.name));
  if (taken) throw new ApiError(409, 'name_taken', `an environment named "${input.name}" already exists`);
  const secrets = Object.fromEntries(Object.entries(input.secrets ?? {}).filter((entry): entry is [string, string] => entry[1] !== null));
  const [row] = await db
    .insert(environments)
    .values({
      name: input.name,
      provider: input.provider,
      region: input.region ?? null,
      config: input.config,
      secrets: Object.keys(secrets).length ? await encrypt(key, JSON.stringify(secrets)) : '',
      ...protection(input),
      updatedAt: new Date(),
    })
    .returning();
  return view(key, row!);
}

export async function updateEnvironment(db: Db, key: CryptoKey, id: string, input: EnvironmentInput) {
  const row = await getEnvironmentRow(db, id);
  const secrets = await readSecrets(key, row.secrets);
  for (const [name, value] of Object.entries(input.secrets ?? {})) {
    if (value === null) delete secrets[name];
    else secrets[name] = value;
  }
  const [updated] = await db
    .update(environments)
    .set({
      name: input.name,
      provider: input.provider,
      region: input.region ?? null,
      config: input.config,
      secrets: Object.keys(secrets).length ? await encrypt(key, JSON.stringify(secrets)) : '',
      ...protection(input),
      updatedAt: new Date(),
    })
    .where(eq(environments.id, id))
    .returning();
  return view(key, updated!);
}

export async function deleteEnvironment(db: Db, id: string) {
  await getEnvironmentRow(db, id);
  await db.delete(environments).where(eq(environments.id, id));
}

/** Secret values of the named environments, by environment, for the deploy steps that target each. */
export async function environmentSecrets(db: Db, key: CryptoKey, names: string[]): Promise<Record<string, Record<string, string>>> {
  if (names.length === 0) return {};
  const rows = await db
    .select({ name: environments.name, secrets: environments.secrets })
    .from(environments)
    .where(inArray(environments.name, [...new Set(names)]));
  const out: Record<string, Record<string, string>> = {};
  for (const row of rows) out[row.name] = await readSecrets(key, row.secrets);
  return out;
}

/** Protection of the named environments, as the build and the run check it; unknown names are left out. */
export async function environmentProtections(db: Db, names: string[]): Promise<EnvironmentProtection[]> {
  if (names.length === 0) return [];
  return db
    .select({ name: environments.name, protected: environments.protected, allowedWorkflows: environments.allowedWorkflows, approvers: environments.approvers })
    .from(environments)
    .where(inArray(environments.name, [...new Set(names)]));
}

export async function recordDeployment(db: Db, entry: typeof deployments.$inferInsert) {
  // A re-sent step report must not record the deployment twice.
  await db.insert(deployments).values(entry).onConflictDoNothing();
}

export async function deploymentHistory(db: Db, environmentName: string, limit = 50) {
  return db
    .select({ deployment: deployments, triggeredByEmail: users.email, workflowName: workflows.name, runNumber: runs.number, stepOutputs: runSteps.outputs })
    .from(deployments)
    .leftJoin(users, eq(users.id, deployments.triggeredBy))
    .leftJoin(workflows, eq(workflows.id, deployments.workflowId))
    .leftJoin(runs, eq(runs.id, deployments.runId))
    .leftJoin(runSteps, and(eq(runSteps.runId, deployments.runId), eq(runSteps.name, deployments.step)))
    .where(eq(deployments.environment, environmentName))
    .orderBy(desc(deployments.createdAt))
    .limit(limit)
    .then((rows) =>
      rows.map((row) => ({
        ...row.deployment,
        triggeredByEmail: row.triggeredByEmail,
        workflowName: row.workflowName,
        runNumber: row.runNumber,
        url: typeof row.stepOutputs?.url === 'string' ? row.stepOutputs.url : null,
      })),
    );
}

export async function environmentSecretValues(db: Db, key: CryptoKey, id: string) {
  return readSecrets(key, (await getEnvironmentRow(db, id)).secrets);
}
