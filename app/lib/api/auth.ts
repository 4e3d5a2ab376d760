import { request } from './core';
import type { User } from './types';

/** Sets the HttpOnly session cookie. */
export async function login(email: string, password: string): Promise<User> {
  return (await request<{ user: User }>('/auth/login', { method: 'POST', body: { email, password } })).user;
}

export async function logout(): Promise<void> {
  await request<void>('/auth/logout', { method: 'POST' });
}

/** Who is signed in; throws `ApiError` with status 401 when nobody is. */
export async function me(options: { fetch?: typeof fetch } = {}): Promise<User> {
  return (await request<{ user: User }>('/auth/me', options)).user;
}

/** Replaces your own password; your other sessions end. */
export async function changePassword(currentPassword: string, newPassword: string): Promise<void> {
  await request<void>('/auth/password', { method: 'POST', body: { currentPassword, newPassword } });
}
