import { isNull } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { runners } from '../../db/schema.ts';
import type { Diagnostic } from '../engine/diagnostics.ts';
import { diagnosticAt } from '../engine/locate.ts';
import type { Plan } from '../engine/plan.ts';
import { parseSource } from '../engine/source.ts';

/**
 * Warnings (never errors: a runner may be registered later) for pipelines whose `runs_on` labels no
 * registered runner has, so their runs would sit queued. The build is pure; the runner facts come from here.
 */
export async function runnerMatchWarnings(db: Db, yaml: string, plan: Plan): Promise<Diagnostic[]> {
  const registered = await db.select({ labels: runners.labels }).from(runners).where(isNull(runners.revokedAt));
  const unmatched = plan.pipelines.filter((p) => !registered.some((r) => p.runsOn.every((label) => r.labels.includes(label))));
  if (unmatched.length === 0) return [];
  const parsed = parseSource(yaml);
  if (!parsed.ok) return [];
  return unmatched.map((p) =>
    diagnosticAt(
      parsed.source,
      ['pipelines', p.name, 'runs_on'],
      'warning',
      'no_matching_runner',
      `no registered runner has the labels [${p.runsOn.join(', ')}] (${registered.length} registered); runs of pipeline "${p.name}" will wait in the queue until one does`,
    ),
  );
}
