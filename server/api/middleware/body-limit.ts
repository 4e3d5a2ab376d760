/**
 * Request body limits, enforced while the body streams in (a declared Content-Length over the limit is refused
 * before reading a byte), so a huge body never reaches `c.req.json()` and memory stays flat.
 * Artifact uploads (`/api/blobs/*`) stream to disk and check their own signed size; they are left alone.
 */
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { AppEnv } from '../env.ts';

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const MAX_WEBHOOK_BODY_BYTES = 1024 * 1024;
export const MAX_BODY_BYTES_VARIABLE = 'FLOWYARD_MAX_BODY_BYTES';

/** FLOWYARD_MAX_BODY_BYTES as a positive whole number of bytes; unset means the 1 MiB default. */
export function parseMaxBodyBytes(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return DEFAULT_MAX_BODY_BYTES;
  const bytes = Number(value);
  if (!Number.isSafeInteger(bytes) || bytes < 1) {
    throw new Error(`${MAX_BODY_BYTES_VARIABLE}: "${value}" is not a positive whole number of bytes`);
  }
  return bytes;
}

const describeBytes = (bytes: number) =>
  bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} bytes`;

function limitTo(maxSize: number, what: string): MiddlewareHandler<AppEnv> {
  return bodyLimit({
    maxSize,
    onError: (c) => c.json({ error: { code: 'too_large', message: `${what} are limited to ${describeBytes(maxSize)}; this one is larger` } }, 413),
  });
}

const webhookLimit = limitTo(MAX_WEBHOOK_BODY_BYTES, 'webhook bodies');
/** Uploaded plugin archives (gzip bodies only) are at most 8 MiB (server/services/plugins/archive.ts). */
const pluginUploadLimit = limitTo(8 * 1024 * 1024, 'plugin archives');
const limits = new Map<number, MiddlewareHandler<AppEnv>>();

/** Mount once on `*`: webhooks get 1 MiB, artifact uploads their own limit, everything else the configured one. */
export const limitRequestBodies: MiddlewareHandler<AppEnv> = async (c, next) => {
  const path = c.req.path;
  if (path.startsWith('/api/blobs/')) return next();
  if (path === '/hooks' || path.startsWith('/hooks/')) return webhookLimit(c, next);
  if (path === '/api/plugins/upload' && c.req.header('content-type') === 'application/gzip') return pluginUploadLimit(c, next);
  const maxSize = c.get('deps').config.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  let limit = limits.get(maxSize);
  if (!limit) limits.set(maxSize, (limit = limitTo(maxSize, `request bodies (${MAX_BODY_BYTES_VARIABLE})`)));
  return limit(c, next);
};
