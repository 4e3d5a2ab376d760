/**
 * Remote plugin registries over HTTP. Indexes are cached per process for the configured TTL; after it, the
 * next read revalidates with If-None-Match and a 304 keeps the cached copy. Every read is bounded in size
 * and time, and redirects are refused, so a registry can only answer for its own URL.
 */
import { ApiError } from '../errors.ts';
import { MAX_ARCHIVE_BYTES } from './archive.ts';
import { registryBase, registryFileUrl, registryIndexSchema, type RegistryIndex } from './registry-index.ts';

export interface RegistrySettings {
  /** Base URLs, in order of preference. */
  urls: readonly string[];
  ttlMs: number;
}

export const DEFAULT_REGISTRY_TTL_MS = 300_000;
const MAX_INDEX_BYTES = 4 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 10_000;

/** How an index was obtained: from the cache within the TTL, from the network, or revalidated by a 304. */
export type IndexSource = 'cache' | 'network' | 'revalidated';

interface Cached {
  index: RegistryIndex;
  etag?: string;
  fetchedAt: number;
}

const cache = new Map<string, Cached>();

const unreachable = (url: string, reason: string) => new ApiError(502, 'registry_unreachable', `plugin registry ${url}: ${reason}`);

async function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  try {
    return await fetch(url, { headers, redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (error) {
    const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${FETCH_TIMEOUT_MS / 1000} s` : 'cannot be reached';
    throw unreachable(url, reason);
  }
}

/** The body, read as it streams in and abandoned once it passes `max` bytes. */
async function boundedBody(url: string, response: Response, max: number): Promise<Buffer> {
  if (!response.ok) throw unreachable(url, `answered ${response.status}`);
  if (Number(response.headers.get('content-length') ?? 0) > max) throw unreachable(url, `the answer is larger than ${max} bytes`);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body?.getReader();
  for (let part = await reader?.read(); part && !part.done; part = await reader!.read()) {
    size += part.value.byteLength;
    if (size > max) {
      await reader!.cancel();
      throw unreachable(url, `the answer is larger than ${max} bytes`);
    }
    chunks.push(part.value);
  }
  return Buffer.concat(chunks);
}

/** A registry's index, from the cache while it is fresh, revalidated with its ETag after. */
export async function registryIndex(base: string, ttlMs: number, now = Date.now()): Promise<{ index: RegistryIndex; source: IndexSource }> {
  const url = `${registryBase(base)}/index.json`;
  const cached = cache.get(url);
  if (cached && now - cached.fetchedAt < ttlMs) return { index: cached.index, source: 'cache' };
  const response = await get(url, cached?.etag ? { 'if-none-match': cached.etag } : {});
  if (response.status === 304 && cached) {
    cached.fetchedAt = now;
    return { index: cached.index, source: 'revalidated' };
  }
  const body = await boundedBody(url, response, MAX_INDEX_BYTES);
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw unreachable(url, 'index.json is not JSON');
  }
  const parsed = registryIndexSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw unreachable(url, `index.json does not follow the registry layout at ${issue.path.join('.')}: ${issue.message}`);
  }
  cache.set(url, { index: parsed.data, etag: response.headers.get('etag') ?? undefined, fetchedAt: now });
  return { index: parsed.data, source: 'network' };
}

/** Forgets cached indexes (after a configuration change; tests). */
export function clearRegistryCache(): void {
  cache.clear();
}

export async function registryArchive(base: string, name: string, version: string): Promise<Buffer> {
  const url = registryFileUrl(base, name, version, 'plugin.tar.gz');
  return boundedBody(url, await get(url), MAX_ARCHIVE_BYTES);
}
