/**
 * Bundles server/edge.ts into one ES module for workerd (Cloudflare Workers with `nodejs_compat`):
 * `npx tsx scripts/build-edge.ts` writes .flowyard/edge/worker.js, which wrangler.toml deploys as it is.
 * Node built-ins stay imports of `node:*` (workerd provides them); a CommonJS `require` of one becomes an
 * import, since a Worker module has no `require`. Node-only services are swapped for the edge's own
 * (server/edge/shims/). Packages resolve with the `workerd`/`worker`/`browser` conditions, so the AWS SDK
 * and @libsql/client take their fetch-based builds.
 */
import { build, type Plugin } from 'esbuild';
import { builtinModules } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const EDGE_BUNDLE = join(root, '.flowyard/edge/worker.js');

const SHIMS: Record<string, string> = {
  'server/services/package-tarball.ts': 'server/edge/shims/package-tarball.ts',
};

const builtins = new Set(builtinModules);

const nodeBuiltins: Plugin = {
  name: 'node-builtins',
  setup(b) {
    b.onResolve({ filter: /^[a-z_:/]+$/ }, (args) => {
      const name = args.path.replace(/^node:/, '');
      if (!args.path.startsWith('node:') && !builtins.has(name)) return undefined;
      if (args.kind === 'require-call') return { path: name, namespace: 'node-require' };
      return { path: `node:${name}`, external: true };
    });
    // `require('events')` in a CommonJS dependency: its default export, which is what Node's require returns.
    b.onLoad({ filter: /.*/, namespace: 'node-require' }, (args) => ({
      contents: `import builtin from 'node:${args.path}'; module.exports = builtin;`,
      loader: 'js',
    }));
  },
};

const shims: Plugin = {
  name: 'edge-shims',
  setup(b) {
    b.onResolve({ filter: /package-tarball\.ts$/ }, (args) => {
      const target = resolve(args.resolveDir, args.path);
      const shim = SHIMS[target.slice(root.length + 1)];
      return shim ? { path: join(root, shim) } : undefined;
    });
  },
};

export async function buildEdge(outfile = EDGE_BUNDLE): Promise<string> {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  await build({
    entryPoints: [join(root, 'server/edge.ts')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['browser', 'module', 'main'],
    plugins: [nodeBuiltins, shims],
    define: { FLOWYARD_VERSION: JSON.stringify(version) },
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  return outfile;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  const file = await buildEdge();
  console.log(`${file.slice(root.length + 1)} built in ${Date.now() - started} ms`);
}
