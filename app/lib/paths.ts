/** Pages a signed-out visitor may open: the sign-in page and shared run links. */
export function isPublicPath(pathname: string): boolean {
  return pathname === '/login' || pathname.startsWith('/share/');
}

/** `/login?next=<where the visitor was going>`. */
export function loginHref(url: URL): string {
  const next = url.pathname + url.search;
  return next === '/' ? '/login' : `/login?next=${encodeURIComponent(next)}`;
}

/** Where to go after signing in: only a path on this site (never `//evil.example` or a full URL). */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\') || next.startsWith('/login')) return '/';
  return next;
}

export const workflowHref = (id: string) => `/workflows/${encodeURIComponent(id)}`;
export const runHref = (id: string) => `/runs/${encodeURIComponent(id)}`;
