import { and, asc, eq, lt } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { runs, runSteps, workflows, workflowSecrets } from '../../db/schema.ts';
import { hasTemplate, renderString } from '../engine/templates/index.ts';

const MASK = '***';

/**
 * A gate's `message` rendered for approvers when the gate opens, over the same data the steps saw:
 * step.set values, earlier steps' outputs (stored masked), trigger, inputs and run facts. Secrets are
 * never decrypted here: `.Secrets.NAME` renders as `***`. A template that fails to render is shown as
 * written with the reason, so approvers still read it.
 */
export async function renderGateMessage(db: Db, runId: string, gateIndex: number, template: string | undefined): Promise<string | null> {
  if (!template) return null;
  if (!hasTemplate(template)) return template;
  const [run] = await db
    .select({ run: runs, workflowName: workflows.name })
    .from(runs)
    .innerJoin(workflows, eq(workflows.id, runs.workflowId))
    .where(eq(runs.id, runId));
  if (!run) return template;
  const earlier = await db
    .select()
    .from(runSteps)
    .where(and(eq(runSteps.runId, runId), lt(runSteps.index, gateIndex)))
    .orderBy(asc(runSteps.index));
  const context: Record<string, unknown> = {};
  for (const step of earlier) if (step.type === 'step.set' && step.state === 'succeeded') Object.assign(context, step.outputs ?? {});
  const secretNames = await db.select({ name: workflowSecrets.name }).from(workflowSecrets).where(eq(workflowSecrets.workflowId, run.run.workflowId));
  const data = {
    ...run.run.triggerPayload,
    ...context,
    steps: Object.fromEntries(earlier.map((s) => [s.name, s.outputs ?? {}])),
    trigger: run.run.triggerPayload,
    meta: {
      run_id: run.run.id,
      run_number: run.run.number,
      workflow: run.workflowName,
      pipeline: run.run.pipeline,
      started_at: (run.run.startedAt ?? run.run.createdAt).toISOString(),
      trigger_type: run.run.triggerPayload.type ?? 'manual',
    },
    Inputs: run.run.inputs,
    Secrets: Object.fromEntries(secretNames.map((s) => [s.name, MASK])),
  };
  try {
    return renderString(template, data);
  } catch (error) {
    return `${template}\n(the message could not be rendered: ${(error as Error).message})`;
  }
}
