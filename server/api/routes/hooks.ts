import { Hono } from 'hono';
import { deliverWebhook, DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../../services/triggers.ts';
import type { AppEnv } from '../env.ts';

const MAX_WEBHOOK_BYTES = 1024 * 1024;

/**
 * Webhook deliveries: `/hooks/<registered path>`; the HMAC signature is the credential. A GET delivery's
 * payload is its query string (signed as the body would be).
 */
export const hookRoutes = new Hono<AppEnv>().on(['GET', 'POST', 'PUT'], '/*', async (c) => {
  const path = c.req.path.replace(/^\/hooks/, '') || '/';
  const body = c.req.method === 'GET' ? new TextEncoder().encode(new URL(c.req.url).search.slice(1)) : new Uint8Array(await c.req.arrayBuffer());
  if (body.byteLength > MAX_WEBHOOK_BYTES) return c.json({ error: { code: 'too_large', message: 'webhook bodies are limited to 1 MiB' } }, 413);
  const { db, events, secretsKey } = c.get('deps');
  const run = await deliverWebhook(db, events, secretsKey, path, c.req.method, body, {
    signature: c.req.header(SIGNATURE_HEADER),
    timestamp: c.req.header(TIMESTAMP_HEADER),
    deliveryId: c.req.header(DELIVERY_HEADER),
  });
  return c.json({ runId: run.id, number: run.number, state: run.state }, 202);
});
