import { request } from './core';
import type { ApiToken, CreatedApiToken } from './types';

/** Your own API tokens, revoked ones included (never the secrets). */
export async function listTokens(signal?: AbortSignal): Promise<ApiToken[]> {
  return (await request<{ tokens: ApiToken[] }>('/tokens', { signal })).tokens;
}

/** The answer is the only time the secret is shown. */
export function createToken(input: { name: string; expiresInDays?: number }): Promise<CreatedApiToken> {
  return request('/tokens', { method: 'POST', body: input });
}

export function revokeToken(id: string): Promise<void> {
  return request(`/tokens/${encodeURIComponent(id)}`, { method: 'DELETE' });
}
