/**
 * Serves the built web app (`vite build` → build/) from the API process, so one port is the whole product.
 * Node-only (reads files through `@hono/node-server`): `flowyard serve` mounts it; an edge deployment
 * serves build/ as static assets instead.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Context, Env, Hono, MiddlewareHandler } from 'hono';
import { compress } from 'hono/compress';

/** Content-hashed file names never change, so browsers may keep them for a year. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Everything else (index.html, favicon, _app/version.json) is revalidated so a new build shows at once. */
const REVALIDATE = 'no-cache';

/** Paths that belong to the API even when nothing there matches: they answer JSON 404s, never the app. */
export function isApiPath(path: string): boolean {
  return path === '/api' || path.startsWith('/api/') || path === '/hooks' || path.startsWith('/hooks/') || path === '/healthz';
}

/** A browser navigation (or a path without a file extension) gets the app; a missing `/x.js` stays a 404. */
function wantsPage(c: Context): boolean {
  const last = c.req.path.slice(c.req.path.lastIndexOf('/') + 1);
  return !last.includes('.') || (c.req.header('Accept') ?? '').includes('text/html');
}

/**
 * Mount after every API route. GET/HEAD only: hashed assets with long cache headers, other build files,
 * then `index.html` for any other page path (`/workflows/abc`) so the SPA router takes over.
 */
export function serveUi<E extends Env>(app: Hono<E>, buildDir: string): void {
  const root = resolve(buildDir);
  const cache = (value: string) => (_path: string, c: Context) => {
    c.header('Cache-Control', value);
  };
  const outsideApi =
    (handler: MiddlewareHandler<E>): MiddlewareHandler<E> =>
    (c, next) =>
      isApiPath(c.req.path) ? next() : handler(c, next);

  const notBuilt = `The web app is not built: ${root}/index.html is missing. Run \`npx vite build\` or set FLOWYARD_UI_DIR.\n`;
  if (!existsSync(root)) {
    // Nothing to serve yet (a fresh clone before its first build): say so on every page, quietly.
    app.get(
      '*',
      outsideApi((c, next) => (wantsPage(c) ? Promise.resolve(c.text(notBuilt, 503)) : next())),
    );
    return;
  }
  const appShell = serveStatic<E>({ root, path: 'index.html', onFound: cache(REVALIDATE) });

  app.use('/_app/*', compress());
  app.get('/_app/immutable/*', serveStatic<E>({ root, onFound: cache(IMMUTABLE) }), (c) => c.notFound());
  app.get('*', outsideApi(serveStatic<E>({ root, onFound: cache(REVALIDATE) })));
  app.get(
    '*',
    outsideApi(async (c, next) => {
      if (!wantsPage(c)) return next();
      return (await appShell(c, async () => undefined)) ?? c.text(notBuilt, 503);
    }),
  );
}
