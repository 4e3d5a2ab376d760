import { Cron } from 'croner';
import { and, eq, lte } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { scheduleRegistrations, webhookRegistrations } from '../../db/schema.ts';
import { ApiError } from '../api/errors.ts';
import { createRun } from './runs.ts';
import { workflowSecrets } from './secrets.ts';

export const SIGNATURE_HEADER = 'x-flowyard-signature';

function timingSafeEqualText(a: string, b: string): boolean {
  const left = new TextEncoder().encode(a);
  const right = new TextEncoder().encode(b);
  let diff = left.length ^ right.length;
  for (let i = 0; i < Math.max(left.length, right.length); i++) diff |= (left[i] ?? 0) ^ (right[i] ?? 0);
  return diff === 0;
}

export async function hmacSha256Hex(secret: string, body: Uint8Array<ArrayBuffer>): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, body));
  return [...mac].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * A webhook delivery: the path names an active registration; when it has a secret, the body must carry
 * `X-Flowyard-Signature: sha256=<hex HMAC-SHA256 of the body>` (GitHub's scheme), compared in constant time.
 */
export async function deliverWebhook(db: Db, secretsKey: CryptoKey, path: string, method: string, body: Uint8Array<ArrayBuffer>, signature: string | undefined) {
  const [hook] = await db.select().from(webhookRegistrations).where(eq(webhookRegistrations.path, path));
  if (!hook) throw new ApiError(404, 'not_found', `no active workflow listens on /hooks${path}`);
  if (hook.method !== method) throw new ApiError(405, 'method_not_allowed', `/hooks${path} accepts ${hook.method}`);
  if (hook.secretName) {
    const secret = (await workflowSecrets(db, secretsKey, hook.workflowId))[hook.secretName];
    if (secret === undefined) throw new ApiError(401, 'unsigned', `the webhook secret ${hook.secretName} is not set for this workflow; nothing was run`);
    const expected = `sha256=${await hmacSha256Hex(secret, body)}`;
    if (!signature || !timingSafeEqualText(signature, expected)) {
      throw new ApiError(401, 'bad_signature', `missing or wrong ${SIGNATURE_HEADER} header; nothing was run`);
    }
  }
  let payload: Record<string, unknown> = {};
  if (body.byteLength > 0) {
    try {
      const parsed = JSON.parse(new TextDecoder().decode(body)) as unknown;
      payload = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : { body: parsed };
    } catch {
      throw new ApiError(400, 'invalid_payload', 'the webhook body must be JSON');
    }
  }
  return createRun(db, hook.workflowId, { pipeline: hook.pipeline, triggerType: 'http', triggerPayload: { ...payload, type: payload.type ?? 'http' } });
}

/**
 * Starts due scheduled runs. Each slot is claimed by moving next_run_at forward with a compare-and-set, so
 * with several API processes on one database every slot runs exactly once. Slots missed while no process
 * was up are not replayed one by one: one run starts for the latest of them, then the schedule continues.
 */
export async function fireDueSchedules(db: Db, now = new Date()): Promise<number> {
  const due = await db.select().from(scheduleRegistrations).where(lte(scheduleRegistrations.nextRunAt, now));
  let fired = 0;
  for (const schedule of due) {
    const next = new Cron(schedule.cron, { paused: true, timezone: schedule.timezone }).nextRun(now);
    const claimed = await db
      .update(scheduleRegistrations)
      .set({ nextRunAt: next })
      .where(and(eq(scheduleRegistrations.id, schedule.id), eq(scheduleRegistrations.nextRunAt, schedule.nextRunAt!)))
      .returning({ id: scheduleRegistrations.id });
    if (claimed.length === 0) continue;
    await createRun(db, schedule.workflowId, {
      pipeline: schedule.pipeline,
      triggerType: 'schedule',
      triggerPayload: { type: 'schedule', cron: schedule.cron, scheduled_for: schedule.nextRunAt!.toISOString() },
    });
    fired++;
  }
  return fired;
}
