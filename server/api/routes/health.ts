import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { sql } from 'drizzle-orm';
import type { AppDeps, AppEnv } from '../env.ts';
import { jsonContent } from '../validation.ts';

/** A dependency that does not answer in this time counts as failed: a probe must not hang. */
const CHECK_TIMEOUT_MS = 3000;
const MAX_MESSAGE_LENGTH = 300;

const healthRoute = createRoute({
  method: 'get',
  path: '/healthz',
  tags: ['health'],
  summary: 'Liveness: the process answers HTTP; checks no dependency (see /readyz); needs no credential',
  responses: {
    200: jsonContent(z.object({ status: z.literal('ok') }), 'Alive'),
  },
});

const CheckResult = z.object({ status: z.enum(['ok', 'error', 'skipped']), message: z.string() });
const Readiness = z.object({
  status: z.enum(['ready', 'unavailable']),
  checks: z.object({ database: CheckResult, artifacts: CheckResult, docker: CheckResult }),
});

const readyRoute = createRoute({
  method: 'get',
  path: '/readyz',
  tags: ['health'],
  summary: 'Readiness: the database, the artifact store and (with the embedded runner) the Docker engine; needs no credential',
  responses: {
    200: jsonContent(Readiness, 'Every required part answers'),
    503: jsonContent(Readiness, 'A required part fails; its check says why'),
  },
});

type Check = z.infer<typeof CheckResult>;

async function runCheck(probe: () => Promise<void>, okMessage: string): Promise<Check> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS / 1000} s`)), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([probe(), timeout]);
    return { status: 'ok', message: okMessage };
  } catch (error) {
    const message = (error as Error).message || String(error);
    return { status: 'error', message: message.length > MAX_MESSAGE_LENGTH ? `${message.slice(0, MAX_MESSAGE_LENGTH)}…` : message };
  } finally {
    clearTimeout(timer);
  }
}

/** Each part's state; the Docker engine counts only when this process runs the embedded runner. */
export async function readiness(deps: AppDeps): Promise<z.infer<typeof Readiness>> {
  const { dockerPing } = deps;
  const [database, artifacts, docker] = await Promise.all([
    runCheck(async () => void (await deps.db.run(sql`select 1`)), 'the database answers'),
    runCheck(() => deps.artifacts.check(), deps.artifacts.kind === 'local' ? 'the artifact folder is writable' : 'the artifact bucket answers'),
    dockerPing ? runCheck(dockerPing, 'the Docker engine answers') : Promise.resolve<Check>({ status: 'skipped', message: 'the embedded runner is off' }),
  ]);
  const checks = { database, artifacts, docker };
  return { status: Object.values(checks).some((check) => check.status === 'error') ? 'unavailable' : 'ready', checks };
}

export const healthRoutes = new OpenAPIHono<AppEnv>()
  .openapi(healthRoute, (c) => c.json({ status: 'ok' as const }, 200))
  .openapi(readyRoute, async (c) => {
    const result = await readiness(c.get('deps'));
    return c.json(result, result.status === 'ready' ? 200 : 503);
  });
