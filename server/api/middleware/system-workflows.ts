/**
 * Plugin validation workflows are read-only to every user (server/services/system-workflows.ts). Every unsafe
 * request under /api/workflows/<id> — draft, publish, restore, delete, secrets, manual runs, and any route added
 * there later — and a re-run of one of their runs is refused with 403; only try-activate, which changes nothing,
 * is let through.
 */
import type { MiddlewareHandler } from 'hono';
import { refuseSystemWorkflow, refuseSystemWorkflowRun } from '../../services/system-workflows.ts';
import type { AppEnv } from '../env.ts';

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const WORKFLOW_PATH = /^\/api\/workflows\/([^/]+)(\/.*)?$/;
const RERUN_PATH = /^\/api\/runs\/([^/]+)\/rerun$/;

/** A malformed escape is left as it is: it names no workflow, and the route answers it. */
function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export const refuseSystemWorkflowChanges: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (UNSAFE_METHODS.has(c.req.method)) {
    const path = new URL(c.req.url).pathname;
    const workflow = WORKFLOW_PATH.exec(path);
    const rerun = RERUN_PATH.exec(path);
    if (workflow && workflow[2] !== '/try-activate') await refuseSystemWorkflow(c.get('deps').db, decoded(workflow[1]!));
    if (rerun) await refuseSystemWorkflowRun(c.get('deps').db, decoded(rerun[1]!));
  }
  await next();
};
