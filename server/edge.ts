/**
 * The API on Cloudflare Workers (wrangler.toml; bundled by scripts/build-edge.ts): the same Hono app over a
 * libSQL database reached over HTTP (libSQL server or Turso) and an S3-compatible bucket (S3, R2, MinIO).
 * Durable Objects carry what a Node process keeps in memory: one per run for its events (log fan-out to SSE
 * viewers, cancel wake-ups; one more for runners' claims), one per workflow for co-editing
 * (server/edge/durable-bus.ts, run-events-object.ts, collab-object.ts). A cron trigger does what the Node
 * server's timers do. What needs a long-lived Node process stays there: the embedded runner, the built-in
 * blob store, the runner package download (`npm pack`) and Docker connection tests. Migrations run at
 * deploy time with `drizzle-kit migrate`.
 */
import { startValidationRecorder } from './services/plugin-validation-results.ts';
import { expireGates } from './services/gates.ts';
import { expireLeases } from './services/runs.ts';
import { fireDueSchedules } from './services/triggers.ts';
import { CREDENTIAL_HEADER, EDITOR_HEADER } from './edge/collab-object.ts';
import { COLLAB_PATH, credentialOf, refuseHandshake, userFor } from './edge/collab-auth.ts';
import { baseDeps, edgeApp, startFailure, type EdgeEnv } from './edge/context.ts';
import { createDurableBus, OBJECT_HEADER, objectStub, withContext } from './edge/durable-bus.ts';
import { eventObjectFor } from './edge/routing.ts';
import { refuseUnsupported } from './edge/unsupported.ts';
import type { ExecutionContext } from './edge/workers-types.ts';

export { RunEvents } from './edge/run-events-object.ts';
export { WorkflowCollab } from './edge/collab-object.ts';

let worker: ReturnType<typeof start> | undefined;

async function start(env: EdgeEnv) {
  const events = createDurableBus(env);
  const { deps, app } = await edgeApp(env, events);
  // A finished plugin validation run is recorded where it finished, as on Node.
  startValidationRecorder(deps.db, events, (error) => console.error(`[plugins] ${error.message}`));
  return { deps, app };
}

function workerFor(env: EdgeEnv) {
  worker ??= start(env).catch((error: unknown) => {
    worker = undefined;
    throw error;
  });
  return worker;
}

/** A forwarded request names its object; the co-editing one also carries the checked editor and credential. */
function forward(request: Request, name: string, extra: Record<string, string> = {}): Request {
  const headers = new Headers(request.headers);
  for (const header of [OBJECT_HEADER, EDITOR_HEADER, CREDENTIAL_HEADER]) headers.delete(header);
  headers.set(OBJECT_HEADER, name);
  for (const [key, value] of Object.entries(extra)) headers.set(key, value);
  return new Request(request, { headers });
}

async function openCollab(request: Request, env: EdgeEnv, workflowId: string): Promise<Response> {
  if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') return new Response('Upgrade Required: co-editing speaks WebSocket', { status: 426 });
  const deps = await baseDeps(env);
  const refusal = await refuseHandshake(deps, request, workflowId);
  if (refusal) return refusal;
  const credential = credentialOf(request, deps.config.publicUrl)!;
  const user = (await userFor(deps, credential))!;
  const stub = objectStub(env, { binding: 'WORKFLOW_COLLAB', name: workflowId });
  return stub.fetch(forward(request, workflowId, { [EDITOR_HEADER]: user.id, [CREDENTIAL_HEADER]: JSON.stringify(credential) }));
}

export default {
  async fetch(request: Request, env: EdgeEnv, context: ExecutionContext): Promise<Response> {
    const refused = refuseUnsupported(request);
    if (refused) return refused;
    let started;
    try {
      started = await workerFor(env);
    } catch (error) {
      return startFailure(error);
    }
    const { deps, app } = started;
    const collab = COLLAB_PATH.exec(new URL(request.url).pathname);
    if (collab) return openCollab(request, env, decodeURIComponent(collab[1]!));
    const object = await eventObjectFor(request, deps.db);
    if (object) return objectStub(env, object).fetch(forward(request, object.name));
    return withContext(context, () => app.fetch(request, env, context as never));
  },
  /** The cron trigger (every minute): lapsed leases, gate timeouts and due schedules, as the Node server's timers. */
  async scheduled(_controller: unknown, env: EdgeEnv, context: ExecutionContext): Promise<void> {
    const { deps } = await workerFor(env);
    await withContext(context, () =>
      Promise.all([expireLeases(deps.db, deps.events), expireGates(deps.db, deps.events), fireDueSchedules(deps.db, deps.events)]),
    );
  },
};
