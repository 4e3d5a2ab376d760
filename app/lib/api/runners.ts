import { request } from './core';
import type { RegistrationToken, Runner } from './types';

export async function listRunners(signal?: AbortSignal): Promise<Runner[]> {
  return (await request<{ runners: Runner[] }>('/runners', { signal })).runners;
}

/** Admins only: its token is refused at once. */
export function revokeRunner(id: string): Promise<void> {
  return request(`/runners/${encodeURIComponent(id)}`, { method: 'DELETE' });
}

/** Admins only: a registration token for new runners and the command that uses it; shown once. */
export function createRegistrationToken(input: { description?: string; expiresInHours?: number } = {}): Promise<RegistrationToken> {
  return request('/runner-tokens', { method: 'POST', body: input });
}
