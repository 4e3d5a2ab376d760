/**
 * Who may open a co-editing WebSocket on the edge: the checks of server/collab/ws.ts on a Web Request. An
 * editor (or admin) whose password needs no change, by API token or by session cookie from our own Origin
 * (browsers send cookies on cross-site WebSocket handshakes too); plugin validation workflows are read-only.
 */
import type { AppDeps } from '../api/env.ts';
import { SESSION_COOKIE } from '../api/middleware/auth.ts';
import { hasRole, userForApiToken, userForSession, type AuthUser } from '../services/auth.ts';
import { systemWorkflowName } from '../services/system-workflows.ts';

export const COLLAB_PATH = /^\/api\/collab\/([^/]+)$/;

/** The credential a connection was opened with, checked again while it stays open. */
export type Credential = { kind: 'token'; value: string } | { kind: 'session'; value: string };

function cookie(request: Request, name: string): string | undefined {
  for (const part of (request.headers.get('cookie') ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return decodeURIComponent(value.join('='));
  }
  return undefined;
}

export function credentialOf(request: Request, publicUrl: string): Credential | undefined {
  const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.get('authorization') ?? '')?.[1];
  if (bearer) return { kind: 'token', value: bearer };
  const origin = request.headers.get('origin');
  const host = request.headers.get('host');
  const allowed = [new URL(publicUrl).origin, `http://${host}`, `https://${host}`];
  if (origin && !allowed.includes(origin)) return undefined;
  const session = cookie(request, SESSION_COOKIE);
  return session ? { kind: 'session', value: session } : undefined;
}

/** The user behind the credential now (unknown, expired, revoked or disabled: null). */
export async function userFor(deps: Pick<AppDeps, 'db' | 'config'>, credential: Credential): Promise<AuthUser | null> {
  const user = credential.kind === 'token' ? await userForApiToken(deps.db, credential.value) : await userForSession(deps.db, credential.value);
  // The operator's FLOWYARD_ADMIN_TOKEN is exempt from the password change, as on every REST route.
  return user && credential.kind === 'token' && credential.value === deps.config.adminToken ? { ...user, mustChangePassword: false } : user;
}

export const mayEdit = (user: AuthUser) => hasRole(user, 'editor') && !user.mustChangePassword;

/** 401/403/404 for a handshake that may not open, else null. */
export async function refuseHandshake(deps: Pick<AppDeps, 'db' | 'config'>, request: Request, workflowId: string): Promise<Response | null> {
  const credential = credentialOf(request, deps.config.publicUrl);
  const user = credential && (await userFor(deps, credential));
  if (!user) return new Response('Unauthorized', { status: 401 });
  if (!mayEdit(user)) return new Response('Forbidden', { status: 403 });
  if ((await systemWorkflowName(deps.db, workflowId)) !== null) return new Response('Forbidden', { status: 403 });
  return null;
}
