/** The validation matrix's API calls (/api/plugin-validations) and the types they answer with. */
import { request } from '$lib/api/core';
import type { components } from '$lib/api/generated/openapi';

type Schemas = components['schemas'];
export type PluginStatus = Schemas['PluginStatus'];
export type PluginValidationResult = Schemas['PluginValidationResult'];
export type PluginValidation = Schemas['PluginValidation'];
export type PluginValidationSummary = Schemas['PluginValidationSummary'];
export type PluginValidationMatrix = Schemas['PluginValidationMatrix'];
export type PluginValidationHistory = Schemas['PluginValidationHistory'];
export type PluginValidationStart = Schemas['PluginValidationStart'];

/** `owner/name` → `/plugin-validations/owner/name...`: each part encoded on its own, the slash kept. */
const path = (plugin: string, rest = '') => `/plugin-validations/${plugin.split('/').map(encodeURIComponent).join('/')}${rest}`;

export function validationMatrix(columns: number, signal?: AbortSignal): Promise<PluginValidationMatrix> {
  return request('/plugin-validations', { query: { limit: columns }, signal });
}

export function validationHistory(plugin: string, signal?: AbortSignal): Promise<PluginValidationHistory> {
  return request(path(plugin), { signal });
}

/** Admins only: runs the newest version's minimal example now (or records not validated at once). */
export function validateNow(plugin: string): Promise<PluginValidationStart> {
  return request(path(plugin, '/validate'), { method: 'POST' });
}

/** Admins only: null detaches, and the plugin is then reported not validated. */
export function setValidationEnvironment(plugin: string, environmentId: string | null): Promise<PluginValidationHistory> {
  return request(path(plugin, '/environment'), { method: 'PUT', body: { environmentId } });
}

/** How a cell reads, for its title and screen readers. */
export function describeResult(result: PluginValidation): string {
  const words = { green: 'green', red: 'red', not_validated: 'not validated' }[result.result];
  const run = result.runNumber === null ? 'no run' : `run #${result.runNumber}`;
  return `${words}: ${result.version}, ${run}, ${new Date(result.createdAt).toLocaleString()}${result.detail ? ` — ${result.detail}` : ''}`;
}
