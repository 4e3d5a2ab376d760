import { and, desc, eq, inArray, ne, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/sqlite-core';
import type { Db } from '../../db/client.ts';
import { scheduleRegistrations, users, webhookRegistrations, workflows, workflowVersions } from '../../db/schema.ts';
import { ApiError, notFound } from './errors.ts';
import { buildWorkflow, type BuildResult } from '../engine/build.ts';
import { summariseChange, type ChangeSummary } from '../engine/diff.ts';
import { sha256Hex } from './crypto.ts';
import { activationFor, type Activation } from './activation.ts';
import type { EventBus } from './events.ts';
import { checkEnvironmentAccess, deploySteps } from '../engine/environment-access.ts';
import { sortDiagnostics } from '../engine/diagnostics.ts';
import { parseSource } from '../engine/source.ts';
import { environmentProtections } from './environments.ts';
import { runnerMatchWarnings } from './runner-match.ts';
import { builtVersion } from './built-versions.ts';
import { installedPlugins } from './plugin-catalog.ts';
import { SYSTEM_USER_EMAIL } from './plugin-validation-results.ts';
import { systemWorkflowRefusal } from './system-workflows.ts';

type Built = Extract<BuildResult, { ok: true }>;

export interface Actor {
  id: string;
}

export async function listWorkflows(db: Db) {
  return db
    .select({
      id: workflows.id,
      name: workflows.name,
      draftRevision: workflows.draftRevision,
      activeVersion: workflows.activeVersion,
      updatedAt: workflows.updatedAt,
      updatedBy: users.email,
    })
    .from(workflows)
    .leftJoin(users, eq(users.id, workflows.updatedBy))
    .orderBy(workflows.name);
}

const creators = alias(users, 'creators');

/** A workflow with its draft; `lockedReason` says why nobody may change or run it (a plugin validation workflow), else null. */
export async function getWorkflow(db: Db, id: string) {
  const [row] = await db
    .select({
      id: workflows.id,
      name: workflows.name,
      draftYaml: workflows.draftYaml,
      draftRevision: workflows.draftRevision,
      activeVersion: workflows.activeVersion,
      createdAt: workflows.createdAt,
      updatedAt: workflows.updatedAt,
      updatedBy: users.email,
      createdByEmail: creators.email,
    })
    .from(workflows)
    .leftJoin(users, eq(users.id, workflows.updatedBy))
    .leftJoin(creators, eq(creators.id, workflows.createdBy))
    .where(eq(workflows.id, id));
  if (!row) throw notFound(`workflow ${id}`);
  const { createdByEmail, ...workflow } = row;
  return { ...workflow, lockedReason: createdByEmail === SYSTEM_USER_EMAIL ? systemWorkflowRefusal(row.name).message : null };
}

export async function createWorkflow(db: Db, input: { name: string; yaml: string }, actor: Actor) {
  const [existing] = await db.select({ id: workflows.id }).from(workflows).where(eq(workflows.name, input.name));
  if (existing) throw new ApiError(409, 'name_taken', `a workflow named "${input.name}" already exists`, { id: existing.id });
  const [row] = await db
    .insert(workflows)
    .values({ name: input.name, draftYaml: input.yaml, createdBy: actor.id, updatedBy: actor.id, updatedAt: new Date() })
    .returning({ id: workflows.id });
  return getWorkflow(db, row!.id);
}

/** Deletes the workflow with its versions and registrations in one atomic batch. */
export async function deleteWorkflow(db: Db, id: string): Promise<void> {
  await getWorkflow(db, id);
  await db.batch([
    db.delete(webhookRegistrations).where(eq(webhookRegistrations.workflowId, id)),
    db.delete(scheduleRegistrations).where(eq(scheduleRegistrations.workflowId, id)),
    db.delete(workflowVersions).where(eq(workflowVersions.workflowId, id)),
    db.delete(workflows).where(eq(workflows.id, id)),
  ]);
}

/** Saves a draft only if nobody saved since `baseRevision`, so concurrent editors never lose an update. */
export async function updateDraft(db: Db, events: EventBus, id: string, input: { yaml: string; baseRevision: number }, actor: Actor) {
  const updated = await db
    .update(workflows)
    .set({ draftYaml: input.yaml, draftRevision: sql`${workflows.draftRevision} + 1`, updatedBy: actor.id, updatedAt: new Date() })
    .where(and(eq(workflows.id, id), eq(workflows.draftRevision, input.baseRevision)))
    .returning({ revision: workflows.draftRevision, updatedAt: workflows.updatedAt });
  if (updated[0]) {
    events.publish({ type: 'draft.changed', workflowId: id, yaml: input.yaml });
    return updated[0];
  }
  const current = await getWorkflow(db, id);
  throw new ApiError(409, 'stale_revision', `the draft was changed since revision ${input.baseRevision}; it is now at revision ${current.draftRevision}`, {
    currentRevision: current.draftRevision,
  });
}

/**
 * Saves a draft edited live: the co-editing document already merged every editor's changes, so there is no
 * base revision to check; a new revision is made only when the text changed. Returns whether it did.
 */
export async function saveLiveDraft(db: Db, events: EventBus, id: string, yaml: string, editorId: string | null): Promise<boolean> {
  const updated = await db
    .update(workflows)
    .set({ draftYaml: yaml, draftRevision: sql`${workflows.draftRevision} + 1`, updatedAt: new Date(), ...(editorId ? { updatedBy: editorId } : {}) })
    .where(and(eq(workflows.id, id), ne(workflows.draftYaml, yaml)))
    .returning({ revision: workflows.draftRevision });
  if (updated.length === 0) return false;
  events.publish({ type: 'draft.changed', workflowId: id, yaml });
  return true;
}

async function activeVersionRow(db: Db, workflowId: string, activeVersion: number | null) {
  if (activeVersion === null) return undefined;
  const [row] = await db
    .select()
    .from(workflowVersions)
    .where(and(eq(workflowVersions.workflowId, workflowId), eq(workflowVersions.number, activeVersion)));
  return row;
}

/**
 * Builds with the installed plugins, then refuses deploys to protected environments this workflow is not allowed
 * to (the engine is pure: the facts come from here).
 */
async function buildFor(db: Db, workflowName: string, yaml: string): Promise<BuildResult> {
  const build = buildWorkflow(yaml, workflowName, { plugins: await installedPlugins(db) });
  if (!build.ok) return build;
  const parsed = parseSource(yaml);
  if (!parsed.ok) return build;
  const environments = await environmentProtections(
    db,
    deploySteps(build.workflow).map((step) => step.environment),
  );
  const refused = checkEnvironmentAccess(parsed.source, build.workflow, workflowName, environments);
  const first = refused[0];
  if (!first) return { ...build, diagnostics: sortDiagnostics([...build.diagnostics, ...(await runnerMatchWarnings(db, yaml, build.plan))]) };
  const more = refused.length > 1 ? ` (and ${refused.length - 1} more error${refused.length > 2 ? 's' : ''})` : '';
  return {
    ok: false,
    error: `line ${first.line}, column ${first.column}: ${first.message}${more}`,
    diagnostics: sortDiagnostics([...build.diagnostics, ...refused]),
    available: build.available,
  };
}

export type TryActivateResult =
  { status: 'build_ok'; build: Built; changes: ChangeSummary | null } | { status: 'build_failed'; build: Extract<BuildResult, { ok: false }> };

/** Builds a candidate against what is published, changing nothing. */
export async function tryActivateWorkflow(db: Db, id: string, yaml?: string): Promise<TryActivateResult> {
  const workflow = await getWorkflow(db, id);
  const candidateYaml = yaml ?? workflow.draftYaml;
  const build = await buildFor(db, workflow.name, candidateYaml);
  if (!build.ok) return { status: 'build_failed', build };
  const active = await activeVersionRow(db, id, workflow.activeVersion);
  if (!active) return { status: 'build_ok', build, changes: null };
  // The editor asks for this summary as the user types: the published side comes from the memo, not a new build.
  const activeBuild = await builtVersion(db, id, active.number).catch(() => null);
  const changes = activeBuild ? summariseChange({ yaml: active.yaml, build: activeBuild }, { yaml: candidateYaml, build }) : null;
  return { status: 'build_ok', build, changes };
}

export type PublishResult =
  | { status: 'published'; version: number; sha256: string; build: Built }
  | { status: 'build_failed'; build: Extract<BuildResult, { ok: false }> }
  | { status: 'rolled_back'; reason: string; activeVersion: number | null };

class ActivationConflict extends Error {}

async function findWebhookConflicts(db: Pick<Db, 'select'>, workflowId: string, activation: Activation): Promise<string | null> {
  const paths = activation.webhooks.map((w) => w.path);
  if (paths.length === 0) return null;
  const held = await db
    .select({ path: webhookRegistrations.path, workflow: workflows.name })
    .from(webhookRegistrations)
    .innerJoin(workflows, eq(workflows.id, webhookRegistrations.workflowId))
    .where(and(inArray(webhookRegistrations.path, paths), ne(webhookRegistrations.workflowId, workflowId)));
  const first = held[0];
  return first ? `webhook path ${first.path} is already registered by workflow "${first.workflow}"` : null;
}

/**
 * Safe publish: build the candidate; if it builds, swap its registrations in for the current version's and
 * record the new version, all in one transaction. Any activation failure rolls the whole swap back, so the
 * previous version stays active with its registrations untouched.
 */
export async function publishWorkflow(
  db: Db,
  id: string,
  input: { yaml?: string; message?: string; restoredFrom?: number },
  actor: Actor,
): Promise<PublishResult> {
  const workflow = await getWorkflow(db, id);
  const yaml = input.yaml ?? workflow.draftYaml;
  const build = await buildFor(db, workflow.name, yaml);
  if (!build.ok) return { status: 'build_failed', build };
  const activation = activationFor(build, Date.now());
  const sha256 = await sha256Hex(yaml);
  try {
    const version = await db.transaction(async (tx) => {
      const conflict = await findWebhookConflicts(tx, id, activation);
      if (conflict) throw new ActivationConflict(conflict);
      const [{ next }] = (await tx
        .select({ next: sql<number>`coalesce(max(${workflowVersions.number}), 0) + 1` })
        .from(workflowVersions)
        .where(eq(workflowVersions.workflowId, id))) as [{ next: number }];
      await tx.delete(webhookRegistrations).where(eq(webhookRegistrations.workflowId, id));
      await tx.delete(scheduleRegistrations).where(eq(scheduleRegistrations.workflowId, id));
      if (activation.webhooks.length) {
        await tx.insert(webhookRegistrations).values(activation.webhooks.map((w) => ({ ...w, workflowId: id, version: next })));
      }
      if (activation.schedules.length) {
        await tx.insert(scheduleRegistrations).values(activation.schedules.map((s) => ({ ...s, workflowId: id, version: next })));
      }
      await tx.insert(workflowVersions).values({
        workflowId: id,
        number: next,
        yaml,
        sha256,
        message: input.message ?? '',
        buildResult: {
          moduleTypes: build.moduleTypes,
          stepTypes: build.stepTypes,
          triggerTypes: build.triggerTypes,
          plan: build.plan,
          diagnostics: build.diagnostics,
        },
        restoredFrom: input.restoredFrom ?? null,
        pluginPins: build.pluginPins,
        createdBy: actor.id,
      });
      await tx.update(workflows).set({ activeVersion: next, updatedAt: new Date(), updatedBy: actor.id }).where(eq(workflows.id, id));
      return next;
    });
    return { status: 'published', version, sha256, build };
  } catch (error) {
    const reason = error instanceof ActivationConflict ? error.message : activationFailureReason(error);
    const after = await getWorkflow(db, id);
    return { status: 'rolled_back', reason, activeVersion: after.activeVersion };
  }
}

function activationFailureReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/UNIQUE constraint failed: webhook_registrations\.path/.test(message)) return 'a webhook path was registered by another workflow at the same moment';
  return `activation failed: ${message}`;
}

export async function listVersions(db: Db, workflowId: string) {
  await getWorkflow(db, workflowId);
  return db
    .select({
      number: workflowVersions.number,
      sha256: workflowVersions.sha256,
      message: workflowVersions.message,
      restoredFrom: workflowVersions.restoredFrom,
      createdAt: workflowVersions.createdAt,
      createdBy: users.email,
    })
    .from(workflowVersions)
    .leftJoin(users, eq(users.id, workflowVersions.createdBy))
    .where(eq(workflowVersions.workflowId, workflowId))
    .orderBy(desc(workflowVersions.number));
}

export async function getVersion(db: Db, workflowId: string, number: number) {
  const [row] = await db
    .select()
    .from(workflowVersions)
    .where(and(eq(workflowVersions.workflowId, workflowId), eq(workflowVersions.number, number)));
  if (!row) throw notFound(`version ${number} of workflow ${workflowId}`);
  return row;
}

/** Restoring republishes an old version's YAML through the same safe path, as a new version. */
export async function restoreVersion(db: Db, workflowId: string, number: number, actor: Actor): Promise<PublishResult> {
  const version = await getVersion(db, workflowId, number);
  return publishWorkflow(db, workflowId, { yaml: version.yaml, message: `restore version ${number}`, restoredFrom: number }, actor);
}
