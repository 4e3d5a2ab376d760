import { changePassword, login, logout, me } from './api/auth';
import { ApiError } from './api/core';
import type { Role, User } from './api/types';

const RANK: Record<Role, number> = { viewer: 0, editor: 1, admin: 2 };

/** Where a user whose password was chosen by someone else (first admin, reset) must go before anything else. */
export const CHANGE_PASSWORD_PATH = '/settings/password';

/** Who is signed in, shared by every page. `/api/auth/me` is asked once; sign-in and sign-out keep it current. */
class Session {
  user = $state<User | null>(null);
  #known = false;

  /** The signed-in user, or null; asks the server the first time only. */
  async ensure(fetchImpl?: typeof fetch): Promise<User | null> {
    if (this.#known) return this.user;
    try {
      this.user = await me({ fetch: fetchImpl });
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) throw error;
      this.user = null;
    }
    this.#known = true;
    return this.user;
  }

  async signIn(email: string, password: string): Promise<void> {
    this.user = await login(email, password);
    this.#known = true;
  }

  /** Replaces the password; clears the must-change flag so the rest of the app opens. */
  async changePassword(currentPassword: string, newPassword: string): Promise<void> {
    await changePassword(currentPassword, newPassword);
    if (this.user) this.user = { ...this.user, mustChangePassword: false };
  }

  async signOut(): Promise<void> {
    try {
      await logout();
    } finally {
      this.expire();
    }
  }

  /** The server said 401: the session is gone. */
  expire(): void {
    this.user = null;
    this.#known = true;
  }

  /** Whether the signed-in user has at least `role` (viewer < editor < admin). */
  can(role: Role): boolean {
    return this.user !== null && RANK[this.user.role] >= RANK[role];
  }
}

export const session = new Session();
