import { request } from './core';
import type { RegistrationToken, RegistrationTokenInfo, Runner } from './types';

export type { RegistrationTokenInfo };

export async function listRunners(signal?: AbortSignal): Promise<Runner[]> {
  return (await request<{ runners: Runner[] }>('/runners', { signal })).runners;
}

/** Admins only: its token is refused at once. */
export function revokeRunner(id: string): Promise<void> {
  return request(`/runners/${encodeURIComponent(id)}`, { method: 'DELETE' });
}

export interface RegistrationTokenOptions {
  description?: string;
  expiresInHours?: number;
  /** The only labels runners registered with the token may have; none lets the runner choose. */
  labels?: string[];
  /** Registers any number of runners (a fleet) instead of one. */
  reusable?: boolean;
}

export type CreatedRegistrationToken = RegistrationToken;

/** Admins only: a registration token for new runners and the command that uses it; shown once. */
export function createRegistrationToken(input: RegistrationTokenOptions = {}): Promise<CreatedRegistrationToken> {
  return request('/runner-tokens', { method: 'POST', body: input });
}

/** Admins only. */
export async function listRegistrationTokens(signal?: AbortSignal): Promise<RegistrationTokenInfo[]> {
  return (await request<{ tokens: RegistrationTokenInfo[] }>('/runner-tokens', { signal })).tokens;
}

/** Admins only: registering with it is refused from now on; runners it registered keep working. */
export function revokeRegistrationToken(id: string): Promise<void> {
  return request(`/runner-tokens/${encodeURIComponent(id)}`, { method: 'DELETE' });
}
