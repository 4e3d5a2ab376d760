import { request } from './core';
import type { PublishResult, Version, VersionSummary } from './types';

const path = (workflowId: string, rest = '') => `/workflows/${encodeURIComponent(workflowId)}/versions${rest}`;

/** Published versions, newest first. */
export async function listVersions(workflowId: string, signal?: AbortSignal): Promise<VersionSummary[]> {
  return (await request<{ versions: VersionSummary[] }>(path(workflowId), { signal })).versions;
}

export function getVersion(workflowId: string, number: number, signal?: AbortSignal): Promise<Version> {
  return request(path(workflowId, `/${number}`), { signal });
}

/** Publishes an old version again through the same safe path as publish. */
export function restoreVersion(workflowId: string, number: number): Promise<PublishResult> {
  return request(path(workflowId, `/${number}/restore`), { method: 'POST', expect: [409, 422] });
}
