import { and, eq, inArray } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { runs, runSteps, type RunState } from '../../db/schema.ts';
import type { EventBus } from './events.ts';
import { archiveRunLogsSoon } from './log-archive.ts';

/** Ends a run: its state, error and outputs; steps that never ran are skipped (or cancelled), running ones fail. */
export async function settleRun(db: Db, events: EventBus, runId: string, state: RunState, error: string | null, outputs?: Record<string, unknown>) {
  const now = new Date();
  await db.batch([
    db
      .update(runs)
      .set({ state, error, finishedAt: now, ...(outputs ? { outputs } : {}) })
      .where(eq(runs.id, runId)),
    db
      .update(runSteps)
      .set({ state: state === 'cancelled' ? 'cancelled' : 'skipped' })
      .where(and(eq(runSteps.runId, runId), inArray(runSteps.state, ['pending', 'waiting']))),
    db
      .update(runSteps)
      .set({ state: state === 'cancelled' ? 'cancelled' : 'failed', finishedAt: now })
      .where(and(eq(runSteps.runId, runId), eq(runSteps.state, 'running'))),
  ]);
  events.publish({ type: 'run.finished', runId, state });
  archiveRunLogsSoon(db, runId);
}
