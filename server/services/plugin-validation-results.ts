/**
 * The validation matrix, recording side: when a validation run ends (the `run.finished` event) its result is
 * recorded for the plugin version it ran, the promotion/demotion rules (server/engine/plugin-status.ts) are
 * applied, and each status change is recorded with the runs that caused it. Recording is idempotent per run
 * and done in one write transaction, so several API processes, or the event and the start-up catch-up, can
 * race on the same run and record it once.
 */
import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { plugins, pluginStatusChanges, pluginValidations, runs, users, workflows, workflowVersions } from '../../db/schema.ts';
import { decidePluginStatus, type StatusDecision, type ValidationResult } from '../engine/plugin-status.ts';
import type { EventBus, Unsubscribe } from './events.ts';
import { ApiError } from './errors.ts';

/** `runs.trigger_payload.type` of a validation run; the payload also names the plugin and version it validates. */
export const VALIDATION_TRIGGER = 'plugin_validation';
/** Enough history for the rules: they look at the last few runs. */
const RULES_HISTORY = 20;
export const VALIDATION_CHANGED_BY = 'validation';
export const SYSTEM_USER_EMAIL = 'system@flowyard.local';

export const validationWorkflowName = (plugin: string) => `plugin-validation--${plugin.replace('/', '--')}`;

/**
 * The user that owns and publishes the validation workflows: disabled and without a password, so nobody signs
 * in as it. A user someone made with that e-mail (an account that can sign in) is refused, not adopted.
 */
export async function systemUserId(db: Db): Promise<string> {
  await db
    .insert(users)
    .values({ email: SYSTEM_USER_EMAIL, name: 'Flowyard plugin validation', role: 'viewer', disabledAt: new Date() })
    .onConflictDoNothing({ target: users.email });
  const [row] = await db.select().from(users).where(eq(users.email, SYSTEM_USER_EMAIL));
  if (!row || row.passwordHash !== null || row.disabledAt === null) {
    throw new ApiError(409, 'system_user_taken', `the user ${SYSTEM_USER_EMAIL} can sign in, so it cannot own plugin validations; delete or rename it`);
  }
  return row.id;
}

export interface ValidationRecord {
  plugin: string;
  version: string;
  result: ValidationResult;
  runId: string | null;
  detail: string;
}

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

async function history(db: Pick<Db, 'select'>, plugin: string, limit: number) {
  return db
    .select()
    .from(pluginValidations)
    .where(eq(pluginValidations.pluginName, plugin))
    .orderBy(desc(pluginValidations.createdAt), desc(sql`rowid`))
    .limit(limit);
}

/**
 * Records one result and applies the rules. Returns the decision, or null when this run was already recorded
 * (or the plugin was uninstalled meanwhile).
 */
export async function recordValidation(db: Db, record: ValidationRecord): Promise<StatusDecision | null> {
  return db.transaction(
    async (tx: Tx) => {
      const [plugin] = await tx.select({ status: plugins.status }).from(plugins).where(eq(plugins.name, record.plugin));
      if (!plugin) return null;
      if (record.runId) {
        const [seen] = await tx.select({ id: pluginValidations.id }).from(pluginValidations).where(eq(pluginValidations.runId, record.runId));
        if (seen) return null;
      }
      await tx
        .insert(pluginValidations)
        .values({ pluginName: record.plugin, version: record.version, result: record.result, runId: record.runId, detail: record.detail });
      const decision = decidePluginStatus(plugin.status, await history(tx, record.plugin, RULES_HISTORY));
      if (decision.changed) {
        await tx.update(plugins).set({ status: decision.status }).where(eq(plugins.name, record.plugin));
        await tx.insert(pluginStatusChanges).values({
          pluginName: record.plugin,
          fromStatus: plugin.status,
          toStatus: decision.status,
          changedBy: VALIDATION_CHANGED_BY,
          reason: `${decision.reason} (${record.plugin}@${record.version})`,
          runIds: decision.runIds,
        });
      }
      return decision;
    },
    { behavior: 'immediate' },
  );
}

const GREEN_STATES = new Set(['succeeded', 'succeeded_with_warnings']);
const FINAL_STATES = ['succeeded', 'succeeded_with_warnings', 'failed', 'cancelled', 'timed_out'] as const;

/** What a finished validation run means: green, red, or not validated when it was cancelled (nobody's fault). */
function resultOf(run: typeof runs.$inferSelect): { result: ValidationResult; detail: string } {
  if (GREEN_STATES.has(run.state)) return { result: 'green', detail: `run #${run.number} ${run.state}` };
  if (run.state === 'cancelled') return { result: 'not_validated', detail: `run #${run.number} was cancelled: the status is kept` };
  return { result: 'red', detail: `run #${run.number} ${run.state}${run.error ? `: ${run.error}` : ''}` };
}

/**
 * The environment's secrets are lent to a validation workflow only while its validation runs: once none is
 * queued, running or waiting, they are deleted, so they do not stay at rest in a workflow editors can edit.
 */
async function withdrawLentSecrets(db: Db, workflowId: string) {
  await db.run(sql`
    DELETE FROM workflow_secrets WHERE workflow_id = ${workflowId}
      AND NOT EXISTS (SELECT 1 FROM runs WHERE workflow_id = ${workflowId} AND state IN ('queued', 'running', 'waiting'))`);
}

/**
 * A run counts only when the matrix started it: a first run (not a re-run) of the plugin's system workflow, of
 * a version the system user published. A webhook body claiming `type: plugin_validation`, or a version an editor
 * published into the system workflow, is just another run.
 */
async function startedByValidation(db: Db, run: typeof runs.$inferSelect, plugin: string): Promise<boolean> {
  if ('rerun_of' in run.triggerPayload) return false;
  const [version] = await db
    .select({ workflow: workflows.name, publishedBy: workflowVersions.createdBy })
    .from(workflowVersions)
    .innerJoin(workflows, eq(workflows.id, workflowVersions.workflowId))
    .where(and(eq(workflowVersions.workflowId, run.workflowId), eq(workflowVersions.number, run.version)));
  if (!version || version.workflow !== validationWorkflowName(plugin)) return false;
  return version.publishedBy === (await systemUserId(db).catch(() => null));
}

/** Records a validation run that ended; anything else (another workflow's run, a run still going) is ignored. */
export async function recordValidationRun(db: Db, runId: string): Promise<StatusDecision | null> {
  const [run] = await db.select().from(runs).where(eq(runs.id, runId));
  const payload = run?.triggerPayload as { type?: unknown; plugin?: unknown; version?: unknown } | undefined;
  if (!run || payload?.type !== VALIDATION_TRIGGER || !(FINAL_STATES as readonly string[]).includes(run.state)) return null;
  if (!(await startedByValidation(db, run, String(payload.plugin)))) return null;
  await withdrawLentSecrets(db, run.workflowId);
  return recordValidation(db, { plugin: String(payload.plugin), version: String(payload.version), runId, ...resultOf(run) });
}

/** Validation runs that ended while no process listened (a restart, another replica's event): recorded now. */
export async function recordMissedValidationRuns(db: Db): Promise<number> {
  const missed = await db
    .select({ id: runs.id })
    .from(runs)
    .where(
      and(
        sql`json_extract(${runs.triggerPayload}, '$.type') = ${VALIDATION_TRIGGER}`,
        inArray(runs.state, [...FINAL_STATES]),
        sql`NOT EXISTS (SELECT 1 FROM plugin_validations v WHERE v.run_id = ${runs.id})`,
      ),
    );
  for (const { id } of missed) await recordValidationRun(db, id);
  return missed.length;
}

/** Records each validation run as it ends (on this process's bus), after catching up on the ones that ended unheard. */
export function startValidationRecorder(db: Db, events: EventBus, onError: (error: Error) => void = () => {}): Unsubscribe {
  void recordMissedValidationRuns(db).catch(onError);
  return events.subscribe('run.finished', (event) => void recordValidationRun(db, event.runId).catch(onError));
}
