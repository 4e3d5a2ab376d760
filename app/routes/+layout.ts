import { redirect } from '@sveltejs/kit';
import { isPublicPath, loginHref, safeNext } from '$lib/paths';
import { CHANGE_PASSWORD_PATH, session } from '$lib/session.svelte';
import type { LayoutLoad } from './$types';

// A single-page app: the API serves build/index.html for every page and the browser renders it.
export const ssr = false;
export const prerender = false;

/** Signed-out visitors go to /login (and come back after); signed-in ones skip it. */
export const load: LayoutLoad = async ({ url, fetch }) => {
  const user = await session.ensure(fetch);
  if (!user && !isPublicPath(url.pathname)) redirect(307, loginHref(url));
  if (user?.mustChangePassword && url.pathname !== CHANGE_PASSWORD_PATH && !isPublicPath(url.pathname)) {
    redirect(307, `${CHANGE_PASSWORD_PATH}?next=${encodeURIComponent(url.pathname + url.search)}`);
  }
  if (user && url.pathname === '/login') redirect(307, safeNext(url.searchParams.get('next')));
};
