// The import rules of docs/architecture.md, checked by `npm test` (scripts/check-imports.sh).
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', comment: 'No import cycles anywhere.', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'engine-is-pure',
      comment: 'server/engine is the language: it imports no other folder of the project.',
      severity: 'error',
      from: { path: '^server/engine/' },
      to: { pathNot: ['^server/engine/', 'node_modules'] },
    },
    {
      name: 'engine-no-node',
      comment: 'server/engine imports no node: module.',
      severity: 'error',
      from: { path: '^server/engine/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'protocol-only-zod',
      comment: 'runners/protocol is the wire contract: zod and nothing else.',
      severity: 'error',
      from: { path: '^runners/protocol/' },
      to: { pathNot: ['^runners/protocol/', 'node_modules/zod/'] },
    },
    {
      name: 'runners-not-server-internals',
      comment: 'runners may import server/engine and runners/protocol, never the API, the services or the database.',
      severity: 'error',
      from: { path: '^runners/' },
      to: { path: '^(server/(api|services|cli|collab|config)|db/)' },
    },
    {
      name: 'server-not-runner-internals',
      comment: 'The API and the services may import runners/protocol, never the daemon or the executors; only server/cli composes both.',
      severity: 'error',
      from: { path: '^server/(api|services|collab|engine)/' },
      to: { path: '^runners/', pathNot: '^runners/protocol/' },
    },
    {
      name: 'services-not-api',
      comment: 'server/services never imports server/api.',
      severity: 'error',
      from: { path: '^server/services/' },
      to: { path: '^server/api/' },
    },
    {
      name: 'app-alone',
      comment: 'The web app talks to the server over HTTP only.',
      severity: 'error',
      from: { path: '^app/' },
      to: { path: '^(server|runners|db)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(build|\\.svelte-kit|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.svelte'] },
  },
};
