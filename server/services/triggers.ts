import { Cron } from 'croner';
import { and, eq, inArray, lte } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { scheduleRegistrations, webhookDeliveries, webhookRegistrations } from '../../db/schema.ts';
import { ApiError } from './errors.ts';
import { createRun } from './runs.ts';
import { workflowSecrets } from './secrets.ts';
import type { EventBus } from './events.ts';

export const SIGNATURE_HEADER = 'x-flowyard-signature';
export const TIMESTAMP_HEADER = 'x-flowyard-timestamp';
export const DELIVERY_HEADER = 'x-flowyard-delivery';
/** How far a signed timestamp may be from the server clock, either way. */
export const WEBHOOK_TOLERANCE_SECONDS = 300;
export const MAX_DELIVERY_ID_LENGTH = 200;
/** Longer than the timestamp tolerance, so a replay is refused by one check or the other. */
const DELIVERY_RETENTION_MS = 24 * 3_600_000;
const PRUNE_INTERVAL_MS = 60_000;
let lastPrunedAt = 0;

export interface WebhookHeaders {
  signature?: string;
  timestamp?: string;
  deliveryId?: string;
}

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

/** The `X-Flowyard-Signature` value for a delivery: `sha256=` + hex HMAC-SHA256 of `<timestamp>.<body>`. */
export async function signWebhook(secret: string, timestamp: string, body: Uint8Array<ArrayBuffer>): Promise<string> {
  const prefix = new TextEncoder().encode(`${timestamp}.`);
  const signed = new Uint8Array(prefix.byteLength + body.byteLength);
  signed.set(prefix);
  signed.set(body, prefix.byteLength);
  return `sha256=${await hmacSha256Hex(secret, signed)}`;
}

function checkDeliveryId(deliveryId: string | undefined): string {
  if (!deliveryId?.trim())
    throw new ApiError(400, 'delivery_required', `the ${DELIVERY_HEADER} header (a unique id per delivery) is required; nothing was run`);
  if (deliveryId.length > MAX_DELIVERY_ID_LENGTH)
    throw new ApiError(400, 'invalid_delivery', `the ${DELIVERY_HEADER} header is limited to ${MAX_DELIVERY_ID_LENGTH} characters; nothing was run`);
  return deliveryId;
}

function checkTimestamp(timestamp: string | undefined, nowMs: number): void {
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) {
    throw new ApiError(401, 'bad_timestamp', `missing or malformed ${TIMESTAMP_HEADER} header (Unix seconds); nothing was run`);
  }
  const skew = Math.round(nowMs / 1000) - Number(timestamp);
  if (Math.abs(skew) > WEBHOOK_TOLERANCE_SECONDS) {
    const where = skew > 0 ? `${skew} s old` : `${-skew} s in the future`;
    throw new ApiError(
      401,
      'stale_timestamp',
      `${TIMESTAMP_HEADER} is ${where}; only deliveries within ${WEBHOOK_TOLERANCE_SECONDS} s of the server clock are accepted; nothing was run`,
    );
  }
}

function parsePayload(body: Uint8Array<ArrayBuffer>): Record<string, unknown> {
  if (body.byteLength === 0) return {};
  try {
    const parsed = JSON.parse(new TextDecoder().decode(body)) as unknown;
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : { body: parsed };
  } catch {
    throw new ApiError(400, 'invalid_payload', 'the webhook body must be JSON');
  }
}

/**
 * Records the delivery before the run exists: the primary key lets exactly one of several concurrent
 * copies through. The delivery id is not signed, so a replay under a fresh id is caught by its signature,
 * which is also recorded once per path (under a `signature:<path>:` key) for signed hooks.
 */
async function claimDelivery(db: Db, path: string, keys: string[], now: Date): Promise<void> {
  const claimed: string[] = [];
  for (const key of keys) {
    const inserted = await db
      .insert(webhookDeliveries)
      .values({ deliveryId: key, path, receivedAt: now })
      .onConflictDoNothing()
      .returning({ id: webhookDeliveries.deliveryId });
    if (inserted.length === 0) {
      if (claimed.length > 0) await db.delete(webhookDeliveries).where(inArray(webhookDeliveries.deliveryId, claimed));
      throw new ApiError(409, 'duplicate_delivery', `this delivery to /hooks${path} was already received; nothing was run`);
    }
    claimed.push(key);
  }
}

/** Forgets deliveries older than a day: by then their timestamps are long refused. Returns how many. */
export async function pruneWebhookDeliveries(db: Db, nowMs = Date.now()): Promise<number> {
  const pruned = await db
    .delete(webhookDeliveries)
    .where(lte(webhookDeliveries.receivedAt, new Date(nowMs - DELIVERY_RETENTION_MS)))
    .returning({ id: webhookDeliveries.deliveryId });
  return pruned.length;
}

async function pruneOccasionally(db: Db, nowMs: number): Promise<void> {
  if (nowMs - lastPrunedAt < PRUNE_INTERVAL_MS) return;
  lastPrunedAt = nowMs;
  await pruneWebhookDeliveries(db, nowMs);
}

/**
 * A webhook delivery: the path names an active registration and `X-Flowyard-Delivery` names the delivery
 * (each id runs once). With a secret, `X-Flowyard-Timestamp` (Unix seconds, within 5 minutes) and
 * `X-Flowyard-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` are required, compared in
 * constant time.
 */
export async function deliverWebhook(
  db: Db,
  events: EventBus,
  secretsKey: CryptoKey,
  path: string,
  method: string,
  body: Uint8Array<ArrayBuffer>,
  headers: WebhookHeaders,
  nowMs = Date.now(),
) {
  // A GET delivery carries its payload in the query string, which is then what the signature covers.
  const query = method === 'GET' ? new TextDecoder().decode(body) : undefined;
  const [hook] = await db.select().from(webhookRegistrations).where(eq(webhookRegistrations.path, path));
  if (!hook) throw new ApiError(404, 'not_found', `no active workflow listens on /hooks${path}`);
  if (hook.method !== method) throw new ApiError(405, 'method_not_allowed', `/hooks${path} accepts ${hook.method}`);
  const deliveryId = checkDeliveryId(headers.deliveryId);
  const replayKeys = [deliveryId];
  if (hook.secretName) {
    const secret = (await workflowSecrets(db, secretsKey, hook.workflowId))[hook.secretName];
    if (secret === undefined) throw new ApiError(401, 'unsigned', `the webhook secret ${hook.secretName} is not set for this workflow; nothing was run`);
    checkTimestamp(headers.timestamp, nowMs);
    const expected = await signWebhook(secret, headers.timestamp!, body);
    if (!headers.signature || !timingSafeEqualText(headers.signature, expected)) {
      throw new ApiError(401, 'bad_signature', `missing or wrong ${SIGNATURE_HEADER} header (HMAC-SHA256 of "<${TIMESTAMP_HEADER}>.<body>"); nothing was run`);
    }
    replayKeys.push(`signature:${path}:${expected}`);
  } else if (headers.timestamp !== undefined) {
    checkTimestamp(headers.timestamp, nowMs);
  }
  const payload = query === undefined ? parsePayload(body) : Object.fromEntries(new URLSearchParams(query));
  await pruneOccasionally(db, nowMs);
  const now = new Date(nowMs);
  await claimDelivery(db, path, replayKeys, now);
  try {
    const run = await createRun(db, events, hook.workflowId, {
      pipeline: hook.pipeline,
      triggerType: 'http',
      triggerPayload: { ...payload, type: payload.type ?? 'http' },
    });
    await db.update(webhookDeliveries).set({ runId: run.id }).where(eq(webhookDeliveries.deliveryId, deliveryId));
    return run;
  } catch (error) {
    // No run was started: let the sender retry the same delivery.
    await db.delete(webhookDeliveries).where(inArray(webhookDeliveries.deliveryId, replayKeys));
    throw error;
  }
}

/**
 * Starts due scheduled runs. Each slot is claimed by moving next_run_at forward with a compare-and-set, so
 * with several API processes on one database every slot runs exactly once. Slots missed while no process
 * was up are not replayed one by one: one run starts for the latest of them, then the schedule continues.
 */
export async function fireDueSchedules(db: Db, events: EventBus, now = new Date()): Promise<number> {
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
    await createRun(db, events, schedule.workflowId, {
      pipeline: schedule.pipeline,
      triggerType: 'schedule',
      triggerPayload: { type: 'schedule', cron: schedule.cron, scheduled_for: schedule.nextRunAt!.toISOString() },
    });
    fired++;
  }
  return fired;
}
