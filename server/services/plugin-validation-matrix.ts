/**
 * The validation matrix as people read it: every installed plugin with its last N validation results (a
 * CI-style status matrix), and one plugin's whole history with the status changes the results caused.
 */
import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import semver from 'semver';
import type { Db } from '../../db/client.ts';
import { environments, plugins, pluginValidations, pluginVersions, runs, workflows } from '../../db/schema.ts';
import { decidePluginStatus } from '../engine/plugin-status.ts';
import { notFound } from './errors.ts';
import { statusChanges } from './plugins/installed.ts';
import { VALIDATION_TRIGGER, validationWorkflowName } from './plugin-validation-results.ts';

export const DEFAULT_MATRIX_COLUMNS = 10;

async function validations(db: Db, plugin: string, limit: number) {
  return db
    .select({
      id: pluginValidations.id,
      version: pluginValidations.version,
      result: pluginValidations.result,
      runId: pluginValidations.runId,
      runNumber: runs.number,
      detail: pluginValidations.detail,
      createdAt: pluginValidations.createdAt,
    })
    .from(pluginValidations)
    .leftJoin(runs, eq(runs.id, pluginValidations.runId))
    .where(eq(pluginValidations.pluginName, plugin))
    .orderBy(desc(pluginValidations.createdAt), desc(sql`${pluginValidations}.rowid`))
    .limit(limit);
}

/** The validation run of a plugin (in its system workflow) that has not ended yet, if any. */
async function runningValidation(db: Db, plugin: string) {
  const [row] = await db
    .select({ runId: runs.id, runNumber: runs.number, state: runs.state })
    .from(runs)
    .innerJoin(workflows, eq(workflows.id, runs.workflowId))
    .where(
      and(
        eq(workflows.name, validationWorkflowName(plugin)),
        sql`json_extract(${runs.triggerPayload}, '$.type') = ${VALIDATION_TRIGGER}`,
        inArray(runs.state, ['queued', 'running', 'waiting']),
      ),
    )
    .orderBy(desc(runs.createdAt))
    .limit(1);
  return row ?? null;
}

async function newestVersions(db: Db): Promise<Map<string, string>> {
  const rows = await db.select({ plugin: pluginVersions.pluginName, version: pluginVersions.version }).from(pluginVersions);
  const newest = new Map<string, string>();
  for (const { plugin, version } of rows) {
    const known = newest.get(plugin);
    if (!known || semver.gt(version, known)) newest.set(plugin, version);
  }
  return newest;
}

async function pluginRows(db: Db, name?: string) {
  return db
    .select({ name: plugins.name, status: plugins.status, environmentId: environments.id, environmentName: environments.name })
    .from(plugins)
    .leftJoin(environments, eq(environments.id, plugins.validationEnvironmentId))
    .where(name ? eq(plugins.name, name) : undefined)
    .orderBy(plugins.name);
}

async function summary(db: Db, row: Awaited<ReturnType<typeof pluginRows>>[number], newest: Map<string, string>, limit: number) {
  const results = await validations(db, row.name, limit);
  return {
    name: row.name,
    status: row.status,
    version: newest.get(row.name) ?? null,
    environment: row.environmentId ? { id: row.environmentId, name: row.environmentName ?? '' } : null,
    warning: decidePluginStatus(row.status, results).warning,
    running: await runningValidation(db, row.name),
    results,
  };
}

/** Plugins by name, each with its last `limit` results, newest first. */
export async function validationMatrix(db: Db, limit = DEFAULT_MATRIX_COLUMNS) {
  const newest = await newestVersions(db);
  const rows = await pluginRows(db);
  return { columns: limit, plugins: await Promise.all(rows.map((row) => summary(db, row, newest, limit))) };
}

/** One plugin's validation results and status changes (by validation or by hand), newest first. */
export async function pluginValidationHistory(db: Db, name: string, limit = 50) {
  const [row] = await pluginRows(db, name);
  if (!row) throw notFound(`installed plugin ${name}`);
  const changes = await statusChanges(db, name, limit);
  return { ...(await summary(db, row, await newestVersions(db), limit)), statusChanges: changes };
}
