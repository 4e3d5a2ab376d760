/**
 * Every HTTP route the API serves with the least credential that may use it. route-matrix.test.ts fails when a
 * served route is missing here (or listed here but no longer served), so no route goes out unclassified.
 */
import type { AttackWorld } from './attack-world.ts';

/**
 * public: no credential. viewer/editor/admin: a user of at least that role (session or API token).
 * approver: any signed-in user; the handler then checks the gate's listed approvers.
 * runner: a runner token. registration-token: the registration token in the body.
 * share: the share token in the path. signed-url: the signature in the query. webhook-signature: HMAC headers.
 */
export type Access = 'public' | 'viewer' | 'editor' | 'admin' | 'approver' | 'runner' | 'registration-token' | 'share' | 'signed-url' | 'webhook-signature';

export const ROUTE_ACCESS: Record<string, Access> = {
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'GET /api/openapi.json': 'public',
  'GET /api/docs': 'public',
  'GET /api/docs/assets/init.js': 'public',
  'GET /api/docs/assets/swagger-ui.css': 'public',
  'GET /api/docs/assets/swagger-ui-bundle.js': 'public',
  // Or the FLOWYARD_METRICS_TOKEN as a Bearer token (tests/api/metrics.test.ts).
  'GET /metrics': 'admin',
  'GET /downloads/{file}': 'public',
  'GET /api/schema/workflow.json': 'public',
  'GET /api/schema/step-types.json': 'public',
  'POST /api/auth/login': 'public',
  'POST /api/auth/logout': 'viewer',
  'GET /api/auth/me': 'viewer',
  'POST /api/auth/password': 'viewer',
  'GET /api/tokens': 'viewer',
  'POST /api/tokens': 'viewer',
  'DELETE /api/tokens/{id}': 'viewer',
  'GET /api/users': 'admin',
  'POST /api/users': 'admin',
  'PATCH /api/users/{id}': 'admin',
  'DELETE /api/users/{id}': 'admin',
  'POST /api/users/{id}/revoke-sessions': 'admin',
  'POST /api/try-activate': 'viewer',
  'GET /api/workflows': 'viewer',
  'POST /api/workflows': 'editor',
  'GET /api/workflows/{id}': 'viewer',
  'DELETE /api/workflows/{id}': 'editor',
  'PATCH /api/workflows/{id}/settings': 'editor',
  'PUT /api/workflows/{id}/draft': 'editor',
  'POST /api/workflows/{id}/try-activate': 'viewer',
  'POST /api/workflows/{id}/publish': 'editor',
  'GET /api/workflows/{id}/versions': 'viewer',
  'GET /api/workflows/{id}/versions/{n}': 'viewer',
  'POST /api/workflows/{id}/versions/{n}/restore': 'editor',
  'POST /api/workflows/{id}/runs': 'editor',
  'GET /api/workflows/{id}/runs': 'viewer',
  'GET /api/runs/{id}': 'viewer',
  'POST /api/runs/{id}/cancel': 'editor',
  'POST /api/runs/{id}/gates/{step}/{decision}': 'approver',
  'GET /api/runs/{id}/logs': 'viewer',
  'GET /api/runs/{id}/log': 'viewer',
  'GET /api/runs/{id}/artifacts': 'viewer',
  'GET /api/runs/{id}/artifacts/download': 'viewer',
  'POST /api/runs/{id}/rerun': 'editor',
  'GET /api/workflows/{id}/secrets': 'viewer',
  'PUT /api/workflows/{id}/secrets/{name}': 'editor',
  'DELETE /api/workflows/{id}/secrets/{name}': 'editor',
  'GET /api/runners': 'viewer',
  'GET /api/runners/install': 'viewer',
  'DELETE /api/runners/{id}': 'admin',
  'POST /api/runner-tokens': 'admin',
  'GET /api/runner-tokens': 'admin',
  'DELETE /api/runner-tokens/{id}': 'admin',
  'POST /api/runs/{id}/shares': 'editor',
  'GET /api/runs/{id}/shares': 'viewer',
  'DELETE /api/runs/{id}/shares/{shareId}': 'editor',
  'GET /api/share/{token}': 'share',
  'GET /api/share/{token}/logs': 'share',
  'GET /api/environments': 'viewer',
  'POST /api/environments': 'admin',
  'GET /api/environments/{id}': 'viewer',
  'PUT /api/environments/{id}': 'admin',
  'DELETE /api/environments/{id}': 'admin',
  'POST /api/environments/{id}/test': 'editor',
  'GET /api/environments/{id}/deployments': 'viewer',
  'GET /api/plugins': 'viewer',
  'GET /api/plugins/{owner}/{name}': 'viewer',
  'POST /api/plugins/install': 'admin',
  'POST /api/plugins/upload': 'admin',
  'POST /api/plugins/{owner}/{name}/upgrade': 'admin',
  'DELETE /api/plugins/{owner}/{name}': 'admin',
  'PUT /api/plugins/{owner}/{name}/status': 'admin',
  'GET /api/plugin-validations': 'viewer',
  'GET /api/plugin-validations/{owner}/{name}': 'viewer',
  'POST /api/plugin-validations/{owner}/{name}/validate': 'admin',
  'PUT /api/plugin-validations/{owner}/{name}/environment': 'admin',
  'GET /registry/index.json': 'public',
  'GET /registry/plugins/{owner}/{name}/{version}/plugin.yaml': 'public',
  'GET /registry/plugins/{owner}/{name}/{version}/plugin.tar.gz': 'public',
  'POST /api/runner/v1/register': 'registration-token',
  'POST /api/runner/v1/heartbeat': 'runner',
  'POST /api/runner/v1/claim': 'runner',
  'POST /api/runner/v1/jobs/{jobId}/lease': 'runner',
  'GET /api/runner/v1/jobs/{jobId}/cancel': 'runner',
  'POST /api/runner/v1/jobs/{jobId}/steps/{index}': 'runner',
  'POST /api/runner/v1/jobs/{jobId}/logs': 'runner',
  'POST /api/runner/v1/jobs/{jobId}/log-frames': 'runner',
  'POST /api/runner/v1/jobs/{jobId}/artifacts/upload-url': 'runner',
  'POST /api/runner/v1/jobs/{jobId}/artifacts/commit': 'runner',
  'POST /api/runner/v1/jobs/{jobId}/artifacts/download-url': 'runner',
  'POST /api/runner/v1/jobs/{jobId}/artifacts/uploads': 'runner',
  'POST /api/runner/v1/jobs/{jobId}/artifacts/uploads/part-url': 'runner',
  'POST /api/runner/v1/jobs/{jobId}/artifacts/uploads/complete': 'runner',
  'POST /api/runner/v1/jobs/{jobId}/artifacts/uploads/abort': 'runner',
  'POST /api/runner/v1/jobs/{jobId}/release': 'runner',
  'POST /api/runner/v1/jobs/{jobId}/done': 'runner',
  'POST /api/runner/v1/plugins/archive': 'runner',
  // Not in the OpenAPI document:
  'GET /hooks/*': 'webhook-signature',
  'POST /hooks/*': 'webhook-signature',
  'PUT /hooks/*': 'webhook-signature',
  'GET /api/blobs/{storageKey}': 'signed-url',
  'PUT /api/blobs/{storageKey}': 'signed-url',
};

/** Served outside Hono's router (the HTTP upgrade of the Node server); tested by its own case. */
export const COLLAB_ROUTE = { path: '/api/collab/{id}', access: 'editor' as Access };

const USER_RANK = { viewer: 1, editor: 2, admin: 3 } as const;
export const isUserAccess = (access: Access): access is 'viewer' | 'editor' | 'admin' | 'approver' => access in USER_RANK || access === 'approver';
export const userRank = (access: 'viewer' | 'editor' | 'admin' | 'approver') => (access === 'approver' ? 1 : USER_RANK[access]);

/** `/api/runs/:id`, `/hooks/*` and `/api/blobs/:storageKey{.+}` as the OpenAPI document spells them. */
export const openApiPath = (honoPath: string) => honoPath.replace(/:(\w+)(\{[^}]*\})?/g, '{$1}');

/** A concrete URL path (with the query a route needs) naming real objects of `world`. */
export function concretePath(key: string, world: AttackWorld): string {
  const path = key.slice(key.indexOf(' ') + 1);
  const idOf = (): string => {
    if (path.startsWith('/api/workflows/')) return world.workflowId;
    if (path.startsWith('/api/runs/')) return world.runId;
    if (path.startsWith('/api/users/')) return world.victimUserId;
    if (path.startsWith('/api/tokens/')) return world.editorTokenId;
    if (path.startsWith('/api/environments/')) return world.environmentId;
    if (path.startsWith('/api/runners/')) return world.runnerId;
    if (path.startsWith('/api/runner-tokens/')) return world.spareRegistrationTokenId;
    throw new Error(`no object for {id} in ${key}`);
  };
  const values: Record<string, () => string> = {
    id: idOf,
    n: () => '1',
    // {owner}/{name} is a plugin; a lone {name} is a workflow secret.
    name: () => (path.includes('{owner}') ? world.pluginName.split('/')[1]! : 'HOOK_SECRET'),
    step: () => 'say',
    decision: () => 'approve',
    shareId: () => world.spareShareId,
    token: () => world.shareToken,
    jobId: () => world.jobId,
    index: () => '0',
    storageKey: () => `runs/${world.runId}/a.tar`,
    file: () => 'flowyard-0.0.0.tgz',
    owner: () => world.pluginName.split('/')[0]!,
    version: () => '1.0.0',
  };
  const filled = path.replace('/hooks/*', world.hookPath).replace(/\{(\w+)\}/g, (_, name: string) =>
    (
      values[name] ??
      (() => {
        throw new Error(`no value for {${name}} in ${key}`);
      })
    )(),
  );
  const query: Record<string, string> = {
    'GET /api/runs/{id}/logs': '?step=say',
    'GET /api/runs/{id}/artifacts/download': '?key=a.tar',
    'GET /api/share/{token}/logs': '?step=say',
    'GET /api/runner/v1/jobs/{jobId}/cancel': '?wait=0',
  };
  return filled + (query[key] ?? '');
}
