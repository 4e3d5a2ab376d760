import { request } from './core';
import type { ConnectionTest, Deployment, Environment, EnvironmentInput } from './types';

const path = (id: string, rest = '') => `/environments/${encodeURIComponent(id)}${rest}`;

export async function listEnvironments(signal?: AbortSignal): Promise<Environment[]> {
  return (await request<{ environments: Environment[] }>('/environments', { signal })).environments;
}

export function getEnvironment(id: string, signal?: AbortSignal): Promise<Environment> {
  return request(path(id), { signal });
}

/** Admins only; 409 when the name is taken. */
export function createEnvironment(input: EnvironmentInput): Promise<Environment> {
  return request('/environments', { method: 'POST', body: input });
}

/** Admins only; secrets not named in `input.secrets` are kept. */
export function updateEnvironment(id: string, input: EnvironmentInput): Promise<Environment> {
  return request(path(id), { method: 'PUT', body: input });
}

/** Admins only. */
export function deleteEnvironment(id: string): Promise<void> {
  return request(path(id), { method: 'DELETE' });
}

/** Editors and admins: the server really reaches the target (engine ping, registry login, bucket access). */
export function testEnvironment(id: string): Promise<ConnectionTest> {
  return request(path(id, '/test'), { method: 'POST' });
}

/** Newest first. */
export async function listDeployments(id: string, signal?: AbortSignal): Promise<Deployment[]> {
  return (await request<{ deployments: Deployment[] }>(path(id, '/deployments'), { signal })).deployments;
}
