/**
 * The validation matrix, starting side: a validation of a plugin is a real Flowyard run of its newest
 * installed version's `examples/minimal/config.yaml`. Each plugin has a system workflow
 * (`plugin-validation--<owner>--<name>`, owned by the disabled system user) that the example is published
 * into through the normal publish path, so it is built, checked and pinned like any other workflow.
 *
 * Credentials: the environment an admin attached to the plugin lends its secrets to that workflow. Before
 * each validation they are copied (encrypted, like every workflow secret) into the system workflow's
 * secrets, replacing what was there, so the example reads them as `{{ .Secrets.NAME }}` (declared under
 * `secrets:` as usual) and every log masks them. Environment secrets otherwise go only to a step.deploy
 * that targets the environment by name, which an example written by a plugin's author cannot know.
 *
 * Results are recorded when the run ends (plugin-validation-results.ts); the schedule is
 * FLOWYARD_PLUGIN_VALIDATION_CRON (validateDuePlugins, called by `serve`'s scheduler tick).
 */
import { and, eq, gte, lt, sql } from 'drizzle-orm';
import { Cron } from 'croner';
import semver from 'semver';
import { parseDocument, isMap } from 'yaml';
import type { Db } from '../../db/client.ts';
import { environments, plugins, pluginValidations, pluginVersions, workflows } from '../../db/schema.ts';
import { MINIMAL_EXAMPLE_PATH } from '../engine/plugin-manifest.ts';
import { ApiError, notFound } from './errors.ts';
import type { EventBus } from './events.ts';
import { environmentSecretValues } from './environments.ts';
import { readArchive } from './plugins/archive.ts';
import { createRun } from './runs.ts';
import { deleteWorkflowSecret, listWorkflowSecretNames, setWorkflowSecret } from './secrets.ts';
import { createWorkflow, publishWorkflow, saveLiveDraft } from './workflows.ts';
import { recordValidation, startValidationRecorder, systemUserId, VALIDATION_TRIGGER, validationWorkflowName } from './plugin-validation-results.ts';

export { validationWorkflowName };

export const DEFAULT_VALIDATION_CRON = '0 3 * * 1';

export interface ValidationDeps {
  db: Db;
  events: EventBus;
  secretsKey: CryptoKey;
}

export interface ValidationStart {
  plugin: string;
  version: string;
  /** `running` until the run ends; `not_validated` or `red` when nothing could run. */
  result: 'running' | 'not_validated' | 'red';
  runId: string | null;
  detail: string;
}

async function pluginRow(db: Db, name: string) {
  const [row] = await db.select().from(plugins).where(eq(plugins.name, name));
  if (!row) throw notFound(`installed plugin ${name}`);
  return row;
}

/** The newest installed version (by semver) of a plugin. */
export async function newestVersion(db: Db, name: string): Promise<string> {
  const rows = await db.select({ version: pluginVersions.version }).from(pluginVersions).where(eq(pluginVersions.pluginName, name));
  const newest = rows.map((r) => r.version).sort(semver.rcompare)[0];
  if (!newest) throw notFound(`installed plugin ${name}`);
  return newest;
}

/** Attaches (or with null, detaches) the environment whose secrets the plugin's validation runs with. */
export async function setValidationEnvironment(db: Db, name: string, environmentId: string | null) {
  await pluginRow(db, name);
  if (environmentId !== null) {
    const [env] = await db.select({ id: environments.id }).from(environments).where(eq(environments.id, environmentId));
    if (!env) throw new ApiError(422, 'unknown_environment', `environment ${environmentId} does not exist; attach one from the Environments page`);
  }
  await db.update(plugins).set({ validationEnvironmentId: environmentId }).where(eq(plugins.name, name));
}

/**
 * The example as the system workflow: saved under its name, with its triggers removed (a validation is
 * started by the matrix only, and must not hold webhook paths or schedules). Returns the first pipeline.
 */
export function validationWorkflowYaml(example: string, workflowName: string): { ok: true; yaml: string; pipeline: string } | { ok: false; error: string } {
  const doc = parseDocument(example);
  if (doc.errors.length > 0) return { ok: false, error: `${MINIMAL_EXAMPLE_PATH} is not valid YAML: ${doc.errors[0]!.message}` };
  const pipelines = doc.get('pipelines');
  if (!isMap(doc.contents) || !isMap(pipelines) || pipelines.items.length === 0) {
    return { ok: false, error: `${MINIMAL_EXAMPLE_PATH} has no pipelines to run` };
  }
  doc.set('name', workflowName);
  doc.delete('triggers');
  for (const item of pipelines.items) if (isMap(item.value)) item.value.delete('trigger');
  return { ok: true, yaml: doc.toString(), pipeline: String((pipelines.items[0]!.key as { value?: unknown })?.value ?? pipelines.items[0]!.key) };
}

async function minimalExample(db: Db, name: string, version: string): Promise<string | null> {
  const [row] = await db
    .select({ archive: pluginVersions.archive })
    .from(pluginVersions)
    .where(and(eq(pluginVersions.pluginName, name), eq(pluginVersions.version, version)));
  if (!row) throw notFound(`installed plugin ${name}@${version}`);
  const example = (await readArchive(row.archive)).get(MINIMAL_EXAMPLE_PATH);
  return example ? example.toString('utf8') : null;
}

/**
 * The plugin's system workflow, created on first use; `created` tells whether this call made it. A workflow of
 * that name made by someone else is refused: the environment's secrets would be lent to a workflow they control.
 */
async function validationWorkflow(db: Db, name: string): Promise<{ id: string; created: boolean }> {
  const workflowName = validationWorkflowName(name);
  const system = await systemUserId(db);
  const existing = async () => {
    const [row] = await db.select({ id: workflows.id, createdBy: workflows.createdBy }).from(workflows).where(eq(workflows.name, workflowName));
    if (row && row.createdBy !== system) {
      throw new ApiError(
        409,
        'name_taken',
        `a workflow named "${workflowName}" exists and was not made by plugin validation; rename or delete it so ${name} can be validated`,
      );
    }
    return row;
  };
  const found = await existing();
  if (found) return { id: found.id, created: false };
  try {
    const created = await createWorkflow(db, { name: workflowName, yaml: '' }, { id: system });
    return { id: created.id, created: true };
  } catch (error) {
    // Another process created it at the same moment (name_taken, or the unique name refusing the second insert): use theirs.
    const theirs = await existing();
    if (theirs) return { id: theirs.id, created: false };
    throw error;
  }
}

/** The system workflow's secrets become exactly the environment's, until its validation runs end (withdrawLentSecrets). */
async function lendEnvironmentSecrets(deps: ValidationDeps, workflowId: string, environmentId: string) {
  const values = await environmentSecretValues(deps.db, deps.secretsKey, environmentId);
  for (const { name } of await listWorkflowSecretNames(deps.db, workflowId)) if (!(name in values)) await deleteWorkflowSecret(deps.db, workflowId, name);
  for (const [name, value] of Object.entries(values)) await setWorkflowSecret(deps.db, deps.secretsKey, workflowId, name, value);
}

/**
 * Validates the newest installed version of a plugin now: with no environment attached it is recorded
 * `not_validated` (the status is kept); an example that is missing or does not build is recorded red at once;
 * otherwise its run is queued and recorded when it ends.
 */
export async function validatePlugin(
  deps: ValidationDeps,
  name: string,
  options: { requestedBy: string | null; trigger: 'manual' | 'schedule' },
): Promise<ValidationStart> {
  const { db } = deps;
  const plugin = await pluginRow(db, name);
  const version = await newestVersion(db, name);
  const nothingRan = async (result: 'not_validated' | 'red', detail: string): Promise<ValidationStart> => {
    await recordValidation(db, { plugin: name, version, result, runId: null, detail });
    return { plugin: name, version, result, runId: null, detail };
  };
  if (!plugin.validationEnvironmentId) return nothingRan('not_validated', 'no validation environment is attached: the status is kept');
  const example = await minimalExample(db, name, version);
  if (example === null) return nothingRan('red', `the archive of ${name}@${version} has no ${MINIMAL_EXAMPLE_PATH}`);
  const workflowName = validationWorkflowName(name);
  const prepared = validationWorkflowYaml(example, workflowName);
  if (!prepared.ok) return nothingRan('red', prepared.error);
  const workflow = await validationWorkflow(db, name);
  await lendEnvironmentSecrets(deps, workflow.id, plugin.validationEnvironmentId);
  const system = await systemUserId(db);
  // The editor shows a validation workflow read-only: its draft is what is published.
  await saveLiveDraft(db, deps.events, workflow.id, prepared.yaml, system);
  const published = await publishWorkflow(db, workflow.id, { yaml: prepared.yaml, message: `plugin validation: ${name}@${version}` }, { id: system });
  if (published.status === 'build_failed') return nothingRan('red', `${MINIMAL_EXAMPLE_PATH} does not build: ${published.build.error}`);
  if (published.status === 'rolled_back') return nothingRan('red', `${MINIMAL_EXAMPLE_PATH} could not be published: ${published.reason}`);
  const run = await createRun(db, deps.events, workflow.id, {
    pipeline: prepared.pipeline,
    triggerType: options.trigger,
    triggerPayload: { type: VALIDATION_TRIGGER, plugin: name, version },
    triggeredBy: options.requestedBy,
  });
  return { plugin: name, version, result: 'running', runId: run.id, detail: '' };
}

/** The latest slot of the cron expression at or before `now` (UTC); throws a clear error for a bad expression. */
export function latestSlot(cron: string, now: Date): Date | null {
  let schedule: Cron;
  try {
    schedule = new Cron(cron, { paused: true, timezone: 'UTC' });
  } catch (error) {
    throw new Error(`FLOWYARD_PLUGIN_VALIDATION_CRON "${cron}" is not a cron expression: ${(error as Error).message}`);
  }
  // previousRuns excludes its reference: 1 ms later includes a slot that is exactly now.
  return schedule.previousRuns(1, new Date(now.getTime() + 1))[0] ?? null;
}

/**
 * Claims this slot's validation of a plugin, once across every process on the database. Without an environment
 * the claim is the not_validated record itself (inserted only when nothing was recorded since the slot). With
 * one, it is creating the system workflow or moving its updated_at past the slot (a compare-and-set); a
 * validation started by hand after the slot published it, so that slot is already done.
 */
async function claimSlot(db: Db, plugin: typeof plugins.$inferSelect, version: string, slot: Date): Promise<boolean> {
  if (!plugin.validationEnvironmentId) {
    await db.run(sql`
      INSERT INTO plugin_validations (id, plugin_name, version, result, run_id, detail, created_at)
      SELECT ${crypto.randomUUID()}, ${plugin.name}, ${version}, 'not_validated', NULL, 'no validation environment is attached: the status is kept', ${Date.now()}
      WHERE NOT EXISTS (SELECT 1 FROM plugin_validations WHERE plugin_name = ${plugin.name} AND created_at >= ${slot.getTime()})`);
    // The record is the whole of a validation without an environment: nothing more to start.
    return false;
  }
  const workflow = await validationWorkflow(db, plugin.name);
  if (workflow.created) return true;
  const moved = await db
    .update(workflows)
    .set({ updatedAt: new Date() })
    .where(and(eq(workflows.id, workflow.id), lt(workflows.updatedAt, slot)))
    .returning({ id: workflows.id });
  return moved.length > 0;
}

/**
 * The scheduled validation: every plugin installed before the cron's latest slot and not validated since is
 * validated now. Each slot fires once per plugin, whichever process gets there first; missed slots are not
 * replayed one by one. Returns how many validation runs it started.
 */
export async function validateDuePlugins(deps: ValidationDeps, cron: string, now = new Date()): Promise<number> {
  const slot = latestSlot(cron, now);
  if (!slot) return 0;
  const candidates = await deps.db.select().from(plugins).where(lt(plugins.createdAt, slot));
  let started = 0;
  for (const plugin of candidates) {
    const [recent] = await deps.db
      .select({ id: pluginValidations.id })
      .from(pluginValidations)
      .where(and(eq(pluginValidations.pluginName, plugin.name), gte(pluginValidations.createdAt, slot)))
      .limit(1);
    if (recent) continue;
    const version = await newestVersion(deps.db, plugin.name).catch(() => null);
    if (!version || !(await claimSlot(deps.db, plugin, version, slot))) continue;
    const start = await validatePlugin(deps, plugin.name, { requestedBy: null, trigger: 'schedule' });
    if (start.runId) started++;
  }
  return started;
}

/**
 * What `serve` runs: the recorder (results as validation runs end, on the event bus) and the schedule, checked
 * every `tickMs`. A bad cron expression throws here, at start-up. Returns a stop function.
 */
export function startPluginValidation(deps: ValidationDeps, options: { cron: string; tickMs: number; onError: (error: Error) => void }): () => void {
  latestSlot(options.cron, new Date());
  const stopRecorder = startValidationRecorder(deps.db, deps.events, options.onError);
  const timer = setInterval(() => void validateDuePlugins(deps, options.cron).catch(options.onError), options.tickMs);
  return () => {
    clearInterval(timer);
    stopRecorder();
  };
}
