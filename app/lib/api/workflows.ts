import { request } from './core';
import type { BuildResult, PublishResult, Workflow, WorkflowSummary } from './types';

const path = (id: string, rest = '') => `/workflows/${encodeURIComponent(id)}${rest}`;

export async function listWorkflows(signal?: AbortSignal): Promise<WorkflowSummary[]> {
  return (await request<{ workflows: WorkflowSummary[] }>('/workflows', { signal })).workflows;
}

export function getWorkflow(id: string, signal?: AbortSignal): Promise<Workflow> {
  return request(path(id), { signal });
}

/** `name`: letters, digits, `_`, `.`, `-`, starting with a letter or digit. 409 when taken. */
export function createWorkflow(input: { name: string; yaml: string }): Promise<Workflow> {
  return request('/workflows', { method: 'POST', body: input });
}

export function deleteWorkflow(id: string): Promise<void> {
  return request(path(id), { method: 'DELETE' });
}

/** Saves only if the draft is still at `baseRevision`; 409 (`ApiError`) when someone saved in between. */
export function saveDraft(id: string, input: { yaml: string; baseRevision: number }): Promise<{ revision: number; updatedAt: string }> {
  return request(path(id, '/draft'), { method: 'PUT', body: input });
}

/** Builds the draft, or `yaml` when given, against the published version; changes nothing. */
export function tryActivateWorkflow(id: string, yaml?: string, signal?: AbortSignal): Promise<BuildResult> {
  return request(path(id, '/try-activate'), { method: 'POST', body: yaml === undefined ? {} : { yaml }, query: { live: 'true' }, expect: [422], signal });
}

/** Builds, then activates in place of the current version; `rolled_back` when activation failed. */
export function publishWorkflow(id: string, input: { yaml?: string; message?: string } = {}): Promise<PublishResult> {
  return request(path(id, '/publish'), { method: 'POST', body: input, expect: [409, 422] });
}
