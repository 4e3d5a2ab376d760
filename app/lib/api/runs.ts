import { apiUrl, request } from './core';
import type { Artifact, Run, RunState, RunSummary } from './types';

export interface RunPage {
  runs: RunSummary[];
  /** Pass as `before` for the next (older) page; null on the last page. */
  nextBefore: number | null;
}

export type RunFilter = {
  limit?: number;
  before?: number;
  state?: RunState;
  pipeline?: string;
};

/** Runs of a workflow, newest first, optionally only those in one state or of one pipeline. */
export function listRuns(workflowId: string, page: RunFilter = {}, signal?: AbortSignal): Promise<RunPage> {
  return request(`/workflows/${encodeURIComponent(workflowId)}/runs`, { query: page, signal });
}

/** Starts a run of the active version; `pipeline` may be left out when there is only one. */
export function startRun(workflowId: string, input: { pipeline?: string; inputs?: Record<string, unknown> } = {}): Promise<Run> {
  return request(`/workflows/${encodeURIComponent(workflowId)}/runs`, { method: 'POST', body: input });
}

export function getRun(id: string, signal?: AbortSignal): Promise<Run> {
  return request(`/runs/${encodeURIComponent(id)}`, { signal });
}

export function cancelRun(id: string): Promise<Run> {
  return request(`/runs/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
}

/** A new run of the same version and inputs; `fromFailed` starts at the failed job, carrying the earlier jobs over. */
export function rerun(id: string, fromFailed = false): Promise<Run> {
  return request(`/runs/${encodeURIComponent(id)}/rerun`, { method: 'POST', body: { fromFailed } });
}

/** A step's log: raw text for download, or an SSE stream (`new EventSource(url)`, resumable by `Last-Event-ID`). */
export function stepLogUrl(runId: string, step: string): string {
  return apiUrl(`/runs/${encodeURIComponent(runId)}/logs`, { step });
}

/** The whole run's log, every step under a heading: raw text, for download or `loadLog`. */
export function runLogUrl(runId: string): string {
  return apiUrl(`/runs/${encodeURIComponent(runId)}/log`);
}

export async function listArtifacts(runId: string, signal?: AbortSignal): Promise<Artifact[]> {
  return (await request<{ artifacts: Artifact[] }>(`/runs/${encodeURIComponent(runId)}/artifacts`, { signal })).artifacts;
}

/** Redirects to a short-lived signed URL of the artifact (a tar file). */
export function artifactDownloadUrl(runId: string, key: string): string {
  return apiUrl(`/runs/${encodeURIComponent(runId)}/artifacts/download`, { key });
}

/** Approves or rejects a waiting gate (listed approvers only: 403 otherwise, 409 when it no longer waits). */
export function decideGate(runId: string, step: string, decision: 'approve' | 'reject', comment: string): Promise<Run> {
  return request(`/runs/${encodeURIComponent(runId)}/gates/${encodeURIComponent(step)}/${decision}`, { method: 'POST', body: { comment } });
}
