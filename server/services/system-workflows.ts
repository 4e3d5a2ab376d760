/**
 * System workflows: the plugin validation workflows (plugin-validation.ts), made and published by the system
 * user and lent an environment's secrets while their validation runs. A user who could change or run one could
 * publish a version that sends those credentials anywhere, so the API and co-editing refuse every change and
 * every run of them; the validation service calls the workflow, secret and run services directly.
 */
import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { runs, users, workflows } from '../../db/schema.ts';
import { ApiError } from './errors.ts';
import { SYSTEM_USER_EMAIL } from './plugin-validation-results.ts';

/** The name of the workflow if the system user made it (whether or not that account was tampered with since), else null. */
export async function systemWorkflowName(db: Db, workflowId: string): Promise<string | null> {
  const [row] = await db
    .select({ name: workflows.name })
    .from(workflows)
    .innerJoin(users, eq(users.id, workflows.createdBy))
    .where(and(eq(workflows.id, workflowId), eq(users.email, SYSTEM_USER_EMAIL)));
  return row?.name ?? null;
}

export function systemWorkflowRefusal(name: string): ApiError {
  return new ApiError(
    403,
    'system_workflow',
    `workflow "${name}" is a plugin validation workflow: it runs with the secrets lent by the plugin's validation environment, ` +
      'so nobody edits, publishes, restores, deletes, runs it or changes its secrets by hand; use "Validate now" on the plugin matrix page',
  );
}

/** Throws 403 when the workflow is a system workflow. */
export async function refuseSystemWorkflow(db: Db, workflowId: string): Promise<void> {
  const name = await systemWorkflowName(db, workflowId);
  if (name !== null) throw systemWorkflowRefusal(name);
}

/** Throws 403 when the run belongs to a system workflow. */
export async function refuseSystemWorkflowRun(db: Db, runId: string): Promise<void> {
  const [run] = await db.select({ workflowId: runs.workflowId }).from(runs).where(eq(runs.id, runId));
  if (run) await refuseSystemWorkflow(db, run.workflowId);
}
