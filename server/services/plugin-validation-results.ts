/**
 * The validation matrix, recording side: when a validation run ends (the `run.finished` event) its result is
 * recorded for the plugin version it ran, the promotion/demotion rules (server/engine/plugin-status.ts) are
 * applied, and each status change is recorded with the runs that caused it. Recording is idempotent per run
 * and done in one write transaction, so several API processes, or the event and the start-up catch-up, can
 * race on the same run and record it once.
 */
import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { plugins, pluginStatusChanges, pluginValidations, runs } from '../../db/schema.ts';
import { decidePluginStatus, type StatusDecision, type ValidationResult } from '../engine/plugin-status.ts';
import type { EventBus, Unsubscribe } from './events.ts';

/** `runs.trigger_payload.type` of a validation run; the payload also names the plugin and version it validates. */
export const VALIDATION_TRIGGER = 'plugin_validation';
/** Enough history for the rules: they look at the last few runs. */
const RULES_HISTORY = 20;
export const VALIDATION_CHANGED_BY = 'validation';

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

/** Records a validation run that ended; anything else (another workflow's run, a run still going) is ignored. */
export async function recordValidationRun(db: Db, runId: string): Promise<StatusDecision | null> {
  const [run] = await db.select().from(runs).where(eq(runs.id, runId));
  const payload = run?.triggerPayload as { type?: unknown; plugin?: unknown; version?: unknown } | undefined;
  if (!run || payload?.type !== VALIDATION_TRIGGER || !(FINAL_STATES as readonly string[]).includes(run.state)) return null;
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
