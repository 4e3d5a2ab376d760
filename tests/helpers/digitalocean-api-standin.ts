/**
 * A STAND-IN for DigitalOcean's App Platform API (https://api.digitalocean.com/v2), which cannot be reached from this
 * machine: a small loopback HTTP server answering the calls the flowyard/digitalocean plugin makes, in the API's
 * documented shapes (account, apps, deployments, rollback, cancel, app metrics), with bearer-token auth.
 * What a real App Platform does when it deploys is played as follows: a deployment goes PENDING_DEPLOY → DEPLOYING →
 * ACTIVE over a few reads; an image whose tag starts with `broken` fails its health check (ERROR), and the live
 * deployment keeps serving, as App Platform does.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';

interface Deployment {
  id: string;
  phase: string;
  cause: string;
  spec: { name: string; region?: string; services: Array<{ name: string; image: { tag?: string }; instance_count: number; [key: string]: unknown }> };
  progress: { steps: Array<{ name: string; status: string; reason?: { message: string } }> };
  created_at: string;
  reads: number;
}

interface App {
  id: string;
  spec: Deployment['spec'];
  live_url?: string;
  active_deployment?: Deployment;
  pending_deployment?: Deployment;
  deployments: Deployment[];
}

export interface DigitalOceanStandIn {
  url: string;
  apps: Map<string, App>;
  /** Every request: method, path and the bearer token it carried. */
  requests: Array<{ method: string; path: string; token: string }>;
  close(): Promise<void>;
}

/** Reads of a deployment before it settles. */
const READS_TO_SETTLE = 2;

const body = async (request: IncomingMessage): Promise<any> => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
};

const view = ({ reads: _, ...deployment }: Deployment) => deployment;
const appView = ({ deployments: _, ...app }: App) => ({
  ...app,
  active_deployment: app.active_deployment && view(app.active_deployment),
  pending_deployment: app.pending_deployment && view(app.pending_deployment),
});

export async function startDigitalOceanStandIn(token: string): Promise<DigitalOceanStandIn> {
  const apps = new Map<string, App>();
  const requests: DigitalOceanStandIn['requests'] = [];

  const startDeployment = (app: App, spec: Deployment['spec'], cause: string): Deployment => {
    const deployment: Deployment = {
      id: randomUUID(),
      phase: 'PENDING_DEPLOY',
      cause,
      spec: structuredClone(spec),
      progress: { steps: [] },
      created_at: new Date().toISOString(),
      reads: 0,
    };
    app.spec = structuredClone(spec);
    app.deployments.unshift(deployment);
    app.pending_deployment = deployment;
    return deployment;
  };

  /** A read moves a deployment on; after a few it is live, or failed when its image is broken. */
  const advance = (app: App, deployment: Deployment) => {
    if (['ACTIVE', 'ERROR', 'CANCELED', 'SUPERSEDED'].includes(deployment.phase)) return;
    deployment.reads++;
    if (deployment.reads < READS_TO_SETTLE) return void (deployment.phase = 'DEPLOYING');
    app.pending_deployment = undefined;
    if (String(deployment.spec.services[0]?.image.tag ?? '').startsWith('broken')) {
      deployment.phase = 'ERROR';
      deployment.progress.steps.push({ name: 'deploy', status: 'ERROR', reason: { message: 'health check failed: the component never answered on /healthz' } });
      return;
    }
    if (app.active_deployment) app.active_deployment.phase = 'SUPERSEDED';
    deployment.phase = 'ACTIVE';
    app.active_deployment = deployment;
    app.live_url = `https://${deployment.spec.name}-${app.id.slice(0, 5)}.ondigitalocean.app`;
  };

  const server: Server = createServer((request, response) => {
    const send = (status: number, payload: unknown) => response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
    const url = new URL(request.url ?? '/', 'http://standin');
    const given = (request.headers.authorization ?? '').replace(/^Bearer /, '');
    requests.push({ method: request.method ?? '', path: url.pathname, token: given });
    if (given !== token) return send(401, { id: 'unauthorized', message: 'Unable to authenticate you' });
    void body(request).then((input) => {
      const parts = url.pathname.split('/').filter(Boolean);
      const app = parts[1] === 'apps' && parts[2] ? apps.get(parts[2]) : undefined;
      const isApps = parts[1] === 'apps';
      const route = `${request.method} /${parts.map((part, i) => (isApps && i === 2 ? ':app' : isApps && i === 4 ? ':deployment' : part)).join('/')}`;
      if (parts[1] === 'apps' && parts[2] && !app) return send(404, { id: 'not_found', message: 'The resource you were accessing could not be found.' });
      switch (route) {
        case 'GET /v2/account':
          return send(200, { account: { email: 'ops@example.com', status: 'active', uuid: 'standin' } });
        case 'GET /v2/apps':
          return send(200, { apps: [...apps.values()].map(appView), links: {}, meta: { total: apps.size } });
        case 'POST /v2/apps': {
          if ([...apps.values()].some((a) => a.spec.name === input.spec?.name)) return send(409, { id: 'conflict', message: 'an app with this name exists' });
          const created: App = { id: randomUUID(), spec: input.spec, deployments: [] };
          apps.set(created.id, created);
          startDeployment(created, input.spec, 'initial deployment');
          return send(200, { app: appView(created) });
        }
        case 'GET /v2/apps/:app':
          return send(200, { app: appView(app!) });
        case 'PUT /v2/apps/:app':
          startDeployment(app!, input.spec, 'app spec updated');
          return send(200, { app: appView(app!) });
        case 'GET /v2/apps/:app/deployments':
          return send(200, { deployments: app!.deployments.map(view), links: {} });
        case 'GET /v2/apps/:app/deployments/:deployment': {
          const deployment = app!.deployments.find((d) => d.id === parts[4]);
          if (!deployment) return send(404, { id: 'not_found', message: 'deployment not found' });
          advance(app!, deployment);
          return send(200, { deployment: view(deployment) });
        }
        case 'POST /v2/apps/:app/deployments/:deployment/cancel': {
          const deployment = app!.deployments.find((d) => d.id === parts[4]);
          if (deployment) deployment.phase = 'CANCELED';
          app!.pending_deployment = undefined;
          return send(200, { deployment: deployment && view(deployment) });
        }
        case 'POST /v2/apps/:app/rollback': {
          const target = app!.deployments.find((d) => d.id === input.deployment_id);
          if (!target) return send(404, { id: 'not_found', message: 'deployment not found' });
          return send(200, { deployment: view(startDeployment(app!, target.spec, `rollback to ${target.id}`)) });
        }
        case 'GET /v2/monitoring/metrics/apps/cpu_percentage':
        case 'GET /v2/monitoring/metrics/apps/memory_percentage': {
          const metricsApp = apps.get(url.searchParams.get('app_id') ?? '');
          const count = metricsApp?.active_deployment?.spec.services[0]?.instance_count ?? 0;
          const value = parts[4] === 'cpu_percentage' ? '12.5' : '50';
          const result = Array.from({ length: count }, (_, i) => ({
            metric: { app_component: 'web', instance: `web-${i}` },
            values: [[Date.now() / 1000, value]],
          }));
          return send(200, { status: 'success', data: { resultType: 'matrix', result } });
        }
        default:
          return send(404, { id: 'not_found', message: `the stand-in does not answer ${route}` });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, apps, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
