import { request } from './core';
import type { Role, UserDetails } from './types';

/** Every user with role and state (admins only). */
export async function listUsers(signal?: AbortSignal): Promise<UserDetails[]> {
  return (await request<{ users: UserDetails[] }>('/users', { signal })).users;
}

/** Changes the role or disables / re-enables; refused (409) when it would leave no enabled admin. */
export async function updateUser(id: string, change: { role?: Role; disabled?: boolean }): Promise<UserDetails> {
  return (await request<{ user: UserDetails }>(`/users/${encodeURIComponent(id)}`, { method: 'PATCH', body: change })).user;
}

export function deleteUser(id: string): Promise<void> {
  return request(`/users/${encodeURIComponent(id)}`, { method: 'DELETE' });
}

/** Ends all of the user's sessions and revokes all their API tokens. */
export function revokeUserSessions(id: string): Promise<void> {
  return request(`/users/${encodeURIComponent(id)}/revoke-sessions`, { method: 'POST' });
}
