import type { MiddlewareHandler } from 'hono';
import { runnerForToken, touchRunner } from '../../services/runners.ts';
import type { AppEnv } from '../env.ts';

/** Runner protocol calls carry `Authorization: Bearer <runner token>`; revoked runners are refused at once. */
export const requireRunner: MiddlewareHandler<AppEnv> = async (c, next) => {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('Authorization') ?? '')?.[1];
  if (!token) return c.json({ error: { code: 'unauthorized', message: 'runner calls need "Authorization: Bearer <runner token>"' } }, 401);
  const { db } = c.get('deps');
  const runner = await runnerForToken(db, token);
  if (!runner) return c.json({ error: { code: 'unauthorized', message: 'the runner token is unknown or the runner was revoked' } }, 401);
  c.set('runner', runner);
  await touchRunner(db, runner);
  await next();
};
