/** The Marketplace's API calls (/api/plugins) and the types they answer with. */
import { ApiError, apiUrl, request } from '$lib/api/core';
import type { components } from '$lib/api/generated/openapi';

type Schemas = components['schemas'];
export type PluginStatus = Schemas['PluginStatus'];
export type PluginSummary = Schemas['PluginSummary'];
export type PluginDetails = Schemas['PluginDetails'];
export type PluginStep = Schemas['PluginStep'];
export type PluginDeployProvider = Schemas['PluginDeployProvider'];
export type PluginRegistryState = Schemas['PluginRegistryState'];
export interface PluginSearch {
  plugins: PluginSummary[];
  registries: PluginRegistryState[];
}

export const PLUGIN_STATUSES: PluginStatus[] = ['verified', 'experimental', 'deprecated'];

/** `owner/name` → `/plugins/owner/name...`: each part encoded on its own, the slash kept. */
const path = (plugin: string, rest = '') => `/plugins/${plugin.split('/').map(encodeURIComponent).join('/')}${rest}`;

/** The IDE page of a plugin. */
export const pluginHref = (plugin: string) => `/marketplace/${plugin.split('/').map(encodeURIComponent).join('/')}`;

export function searchPlugins(
  query: { text?: string; status?: PluginStatus; stepType?: string; deployProvider?: string },
  signal?: AbortSignal,
): Promise<PluginSearch> {
  const { text, status, stepType, deployProvider } = query;
  return request('/plugins', { query: { q: text || undefined, status, stepType: stepType || undefined, deployProvider: deployProvider || undefined }, signal });
}

export function getPlugin(plugin: string, signal?: AbortSignal): Promise<PluginDetails> {
  return request(path(plugin), { signal });
}

/** Admins only: a version or a semver range, from the configured registries. */
export function installPlugin(plugin: string, version: string): Promise<PluginDetails> {
  return request('/plugins/install', { method: 'POST', body: { name: plugin, version } });
}

/** Admins only: the newest version newer than the installed ones. */
export function upgradePlugin(plugin: string): Promise<PluginDetails> {
  return request(path(plugin, '/upgrade'), { method: 'POST', body: {} });
}

/** Admins only; 409 naming the workflows while a published version pins it. */
export function uninstallPlugin(plugin: string, version?: string): Promise<void> {
  return request(path(plugin), { method: 'DELETE', query: { version } });
}

/** Admins only: the registry owner's hand; deprecated is only ever set this way. */
export function setPluginStatus(plugin: string, status: PluginStatus, reason: string): Promise<PluginDetails> {
  return request(path(plugin, '/status'), { method: 'PUT', body: { status, reason } });
}

/** Admins only: installs an archive (.tar.gz, at most 8 MiB) as registry `local`; its problems come back as an ApiError. */
export async function uploadPlugin(archive: Blob): Promise<PluginDetails> {
  let response: Response;
  try {
    response = await fetch(apiUrl('/plugins/upload'), {
      method: 'POST',
      credentials: 'same-origin',
      headers: { accept: 'application/json', 'content-type': 'application/gzip' },
      body: archive,
    });
  } catch {
    throw new ApiError(0, 'network', 'cannot reach the Flowyard server; check your connection and try again');
  }
  const body = (await response.json().catch(() => undefined)) as (PluginDetails & { error?: { code: string; message: string } }) | undefined;
  if (response.ok && body) return body;
  throw new ApiError(response.status, body?.error?.code ?? 'error', body?.error?.message ?? `the upload failed (${response.status})`);
}
