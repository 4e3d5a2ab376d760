/**
 * Which requests the Worker hands to a Durable Object: those that wait for events (the runners' claim
 * long-poll, a job's cancel long-poll, SSE log streams), so they wait where the events are delivered
 * (server/edge/durable-bus.ts). The object runs the same app over the same database; everything else is
 * answered by the Worker itself.
 */
import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { jobs } from '../../db/schema.ts';
import { RUNNER_PROTOCOL_PREFIX } from '../../runners/protocol/v1.ts';
import { runIdForShareToken } from '../services/shares.ts';
import { CLAIMS_OBJECT, runObject, type ObjectAddress } from './durable-bus.ts';

const RUN_LOG = /^\/api\/runs\/([^/]+)\/logs$/;
const SHARED_LOG = /^\/api\/share\/([^/]+)\/logs$/;
const JOB_CANCEL = new RegExp(`^${RUNNER_PROTOCOL_PREFIX}/jobs/([^/]+)/cancel$`);

const runEvents = (runId: string): ObjectAddress => ({ binding: 'RUN_EVENTS', name: runObject(runId) });

/** The object that serves `request`, or undefined when the Worker answers it (also when the run is unknown: the app then says so). */
export async function eventObjectFor(request: Request, db: Db): Promise<ObjectAddress | undefined> {
  const { pathname } = new URL(request.url);
  if (request.method === 'POST' && pathname === `${RUNNER_PROTOCOL_PREFIX}/claim`) return { binding: 'RUN_EVENTS', name: CLAIMS_OBJECT };
  if (request.method !== 'GET') return undefined;
  const jobId = JOB_CANCEL.exec(pathname)?.[1];
  if (jobId) {
    const [job] = await db
      .select({ runId: jobs.runId })
      .from(jobs)
      .where(eq(jobs.id, decodeURIComponent(jobId)));
    return job ? runEvents(job.runId) : undefined;
  }
  if (!(request.headers.get('accept') ?? '').includes('text/event-stream')) return undefined;
  const runId = RUN_LOG.exec(pathname)?.[1];
  if (runId) return runEvents(decodeURIComponent(runId));
  const shareToken = SHARED_LOG.exec(pathname)?.[1];
  if (shareToken) {
    const sharedRun = await runIdForShareToken(db, decodeURIComponent(shareToken)).catch(() => undefined);
    return sharedRun ? runEvents(sharedRun) : undefined;
  }
  return undefined;
}
