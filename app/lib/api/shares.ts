import { apiUrl, request } from './core';
import type { CreatedShareLink, ShareLink, SharedRun } from './types';

const path = (runId: string, rest = '') => `/runs/${encodeURIComponent(runId)}/shares${rest}`;

/** A read-only link to the run; without `expiresInHours` it lasts 7 days, with `null` until revoked. */
export function createShare(runId: string, input: { expiresInHours?: number | null } = {}): Promise<CreatedShareLink> {
  return request(path(runId), { method: 'POST', body: input });
}

export async function listShares(runId: string, signal?: AbortSignal): Promise<ShareLink[]> {
  return (await request<{ shares: ShareLink[] }>(path(runId), { signal })).shares;
}

export function revokeShare(runId: string, shareId: string): Promise<void> {
  return request(path(runId, `/${encodeURIComponent(shareId)}`), { method: 'DELETE' });
}

/** The shared run, without an account; 404 (`ApiError`) once the link is revoked or expired. */
export function getSharedRun(token: string, signal?: AbortSignal): Promise<SharedRun> {
  return request(`/share/${encodeURIComponent(token)}`, { signal });
}

/** A step log of the shared run: SSE or raw text, like `stepLogUrl`. */
export function sharedStepLogUrl(token: string, step: string): string {
  return apiUrl(`/share/${encodeURIComponent(token)}/logs`, { step });
}
