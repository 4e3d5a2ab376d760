/**
 * flowyard/digitalocean: the deploy provider `digitalocean`, on DigitalOcean App Platform's public API
 * (https://docs.digitalocean.com/reference/api/api-reference/#tag/Apps) with fetch. One App Platform app per
 * Flowyard app and environment, with one service running the image; App Platform itself replaces instances
 * (a rolling deployment) and keeps the live deployment serving when a new one fails.
 */
import type { AppStatus, DeployContext, DeployOutcome, DeployPlan, DeployProvider, InstanceMetrics } from '../../../runners/deploy/provider.ts';
import type { PluginTarget } from '../../../runners/plugins/deploy-grpc.ts';
import { serveDeployProvider } from '../../../runners/plugins/deploy-serve.ts';

interface Settings {
  token_secret: string;
  app_name?: string;
  instance_size: string;
  http_port: number;
  api_url: string;
  poll_interval_ms: number;
  deploy_timeout_seconds: number;
}

interface ImageSpec {
  registry_type: 'DOCR' | 'DOCKER_HUB' | 'GHCR';
  registry?: string;
  repository: string;
  tag?: string;
  digest?: string;
}
interface ServiceSpec {
  name: string;
  image: ImageSpec;
  instance_count: number;
  instance_size_slug: string;
  http_port: number;
  health_check?: Record<string, unknown>;
}
interface AppSpec {
  name: string;
  region?: string;
  services: ServiceSpec[];
}
interface Deployment {
  id: string;
  phase: string;
  spec: AppSpec;
  cause?: string;
  progress?: { steps?: Array<{ name: string; status: string; reason?: { message?: string } }> };
}
interface App {
  id: string;
  spec: AppSpec;
  live_url?: string;
  active_deployment?: Deployment;
  pending_deployment?: Deployment;
}

const FINAL_PHASES = new Set(['ACTIVE', 'ERROR', 'CANCELED', 'SUPERSEDED']);

/** An image reference as App Platform's image spec: DOCR, Docker Hub or GHCR, with a tag or a digest. */
export function imageSpec(reference: string): ImageSpec {
  const [name = reference, digest] = reference.split('@');
  const colon = name.lastIndexOf(':');
  const hasTag = colon > name.lastIndexOf('/');
  const path = (hasTag ? name.slice(0, colon) : name).split('/');
  const version = digest ? { digest } : { tag: hasTag ? name.slice(colon + 1) : 'latest' };
  const host = path.length > 1 && /[.:]/.test(path[0]!) ? path.shift()! : 'docker.io';
  if (host === 'registry.digitalocean.com' && path.length === 2) return { registry_type: 'DOCR', repository: path[1]!, ...version };
  if (host === 'ghcr.io' && path.length === 2) return { registry_type: 'GHCR', registry: path[0]!, repository: path[1]!, ...version };
  if (host === 'docker.io' && path.length <= 2) return { registry_type: 'DOCKER_HUB', registry: path.length === 2 ? path[0]! : 'library', repository: path.at(-1)!, ...version };
  throw new Error(`DigitalOcean App Platform pulls from its registry (registry.digitalocean.com/<registry>/<repo>), Docker Hub or GHCR; ${reference} is none of them`);
}

const versionOf = (spec: AppSpec | undefined) => {
  const image = spec?.services[0]?.image;
  return image?.tag ?? image?.digest?.slice(0, 19) ?? '';
};

/** App Platform app names: 2 to 32 characters, lower case letters, digits and dashes. */
export function appName(app: string, environment: string): string {
  const name = `${app}-${environment}`
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 32)
    .replace(/^-+|-+$/g, '');
  return /^[a-z]/.test(name) ? name : `a${name}`.slice(0, 32);
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

export class DigitalOceanAppPlatform implements DeployProvider {
  readonly name = 'digitalocean';
  private readonly settings: Settings;
  private readonly token: string;

  constructor(private readonly target: PluginTarget) {
    const given = target.settings as Partial<Settings>;
    this.settings = {
      instance_size: 'apps-s-1vcpu-0.5gb',
      http_port: 8080,
      api_url: 'https://api.digitalocean.com',
      poll_interval_ms: 5000,
      deploy_timeout_seconds: 900,
      ...given,
    } as Settings;
    const token = target.secrets[this.settings.token_secret];
    if (!token) throw new Error(`the secret ${this.settings.token_secret} (settings.token_secret) holding the DigitalOcean API token was not sent`);
    this.token = token;
  }

  private async api<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.settings.api_url.replace(/\/$/, '')}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) {
      let detail = text.slice(0, 300);
      try {
        detail = (JSON.parse(text) as { message?: string }).message ?? detail;
      } catch {
        // not JSON: the text as it came
      }
      throw new Error(`DigitalOcean API ${method} ${path}: ${response.status} ${detail}`);
    }
    return (text ? JSON.parse(text) : {}) as T;
  }

  private nameFor = (app: string, environment: string) => this.settings.app_name ?? appName(app, environment);

  private async findApp(name: string): Promise<App | undefined> {
    for (let page = 1; ; page++) {
      const { apps = [], links } = await this.api<{ apps?: App[]; links?: { pages?: { next?: string } } }>('GET', `/v2/apps?page=${page}&per_page=100`);
      const found = apps.find((app) => app.spec.name === name);
      if (found || !links?.pages?.next) return found;
    }
  }

  async testConnection(): Promise<string> {
    const { account } = await this.api<{ account: { email: string; status: string } }>('GET', '/v2/account');
    return `DigitalOcean account ${account.email} (${account.status})`;
  }

  async pushImage(image: string, context: DeployContext): Promise<void> {
    imageSpec(image);
    context.log(`App Platform pulls ${image} from its registry when it deploys; push it there with step.docker_push`);
  }

  async pullImage(image: string, context: DeployContext): Promise<void> {
    imageSpec(image);
    context.log(`App Platform pulls ${image} itself when it deploys`);
  }

  private spec(plan: DeployPlan, name: string): AppSpec {
    const check = plan.healthCheck;
    return {
      name,
      ...(this.target.region ? { region: this.target.region } : {}),
      services: [
        {
          name: 'web',
          image: imageSpec(plan.image),
          instance_count: plan.replicas,
          instance_size_slug: this.settings.instance_size,
          http_port: this.settings.http_port,
          health_check: {
            http_path: check.path,
            period_seconds: Math.max(1, Math.ceil(check.intervalMs / 1000)),
            timeout_seconds: Math.max(1, Math.ceil(check.timeoutMs / 1000)),
            success_threshold: check.healthyThreshold,
          },
        },
      ],
    };
  }

  /** Follows a deployment until it is live or has failed, narrating its phases and failed steps. */
  private async follow(appId: string, deploymentId: string, context: DeployContext): Promise<Deployment> {
    const deadline = Date.now() + this.settings.deploy_timeout_seconds * 1000;
    let phase = '';
    for (;;) {
      const { deployment } = await this.api<{ deployment: Deployment }>('GET', `/v2/apps/${appId}/deployments/${deploymentId}`);
      if (deployment.phase !== phase) context.log(`deployment ${deployment.id}: ${(phase = deployment.phase)}`);
      if (FINAL_PHASES.has(deployment.phase)) {
        for (const step of deployment.progress?.steps ?? []) {
          if (step.status === 'ERROR') context.log(`  ${step.name} failed: ${step.reason?.message ?? 'no reason given'}`);
        }
        return deployment;
      }
      if (context.signal.aborted || Date.now() > deadline) {
        context.log(`cancelling deployment ${deployment.id}`);
        await this.api('POST', `/v2/apps/${appId}/deployments/${deployment.id}/cancel`);
        return { ...deployment, phase: 'CANCELED' };
      }
      await sleep(this.settings.poll_interval_ms, context.signal);
    }
  }

  private async liveUrl(appId: string): Promise<string | null> {
    const { app } = await this.api<{ app: App }>('GET', `/v2/apps/${appId}`);
    return app.live_url ?? null;
  }

  async deploy(plan: DeployPlan, context: DeployContext): Promise<DeployOutcome> {
    const version = plan.version ?? versionOf({ name: '', services: [{ image: imageSpec(plan.image) } as ServiceSpec] });
    if (plan.strategy !== 'rolling') {
      return { status: 'failed', version, url: null, error: `App Platform deploys rolling only; strategy ${plan.strategy} is not available on digitalocean` };
    }
    const name = this.nameFor(plan.app, plan.environment);
    const spec = this.spec(plan, name);
    const existing = await this.findApp(name);
    const previous = existing?.active_deployment;
    context.log(`${existing ? 'updating' : 'creating'} App Platform app ${name} with ${plan.image} (${plan.replicas} × ${this.settings.instance_size})`);
    const { app } = existing
      ? await this.api<{ app: App }>('PUT', `/v2/apps/${existing.id}`, { spec })
      : await this.api<{ app: App }>('POST', '/v2/apps', { spec });
    const pending = app.pending_deployment ?? (await this.api<{ deployments: Deployment[] }>('GET', `/v2/apps/${app.id}/deployments?per_page=1`)).deployments[0];
    if (!pending) throw new Error(`App Platform started no deployment for app ${name}`);
    const done = await this.follow(app.id, pending.id, context);
    if (done.phase === 'ACTIVE') return { status: 'deployed', version, url: await this.liveUrl(app.id) };
    const error = `deployment ${done.id} ended ${done.phase}`;
    if (!previous || (!plan.rollbackOnFailure && !context.signal.aborted)) return { status: 'failed', version, url: previous ? await this.liveUrl(app.id) : null, error };
    // App Platform keeps the previous deployment serving; the app's spec goes back to it too.
    context.log(`restoring the spec of the live deployment ${previous.id} (${versionOf(previous.spec)})`);
    const { app: restored } = await this.api<{ app: App }>('PUT', `/v2/apps/${app.id}`, { spec: previous.spec });
    if (restored.pending_deployment) await this.follow(app.id, restored.pending_deployment.id, { ...context, signal: new AbortController().signal });
    return { status: 'rolled_back', version, url: await this.liveUrl(app.id), error };
  }

  async status(app: string, environment: string): Promise<AppStatus> {
    const found = await this.findApp(this.nameFor(app, environment));
    const active = found?.active_deployment;
    const service = active?.spec.services[0];
    const version = versionOf(active?.spec);
    return {
      app,
      environment,
      deploymentId: active?.id ?? null,
      version: active ? version : null,
      slot: null,
      instances: Array.from({ length: service?.instance_count ?? 0 }, (_, i) => ({
        id: `${found!.id}/${service!.name}/${i}`,
        version,
        slot: 'live',
        url: found!.live_url ?? '',
        state: active!.phase.toLowerCase(),
      })),
    };
  }

  async rollback(app: string, environment: string, context: DeployContext): Promise<DeployOutcome> {
    const name = this.nameFor(app, environment);
    const found = await this.findApp(name);
    if (!found?.active_deployment) throw new Error(`App Platform app ${name} has no live deployment to roll back from`);
    const { deployments } = await this.api<{ deployments: Deployment[] }>('GET', `/v2/apps/${found.id}/deployments?per_page=50`);
    const activeAt = deployments.findIndex((d) => d.id === found.active_deployment!.id);
    const before = deployments.slice(activeAt + 1).find((d) => d.phase === 'SUPERSEDED');
    if (!before) throw new Error(`App Platform app ${name} has no earlier live deployment to roll back to`);
    context.log(`rolling ${name} back to deployment ${before.id} (${versionOf(before.spec)})`);
    const { deployment } = await this.api<{ deployment: Deployment }>('POST', `/v2/apps/${found.id}/rollback`, { deployment_id: before.id, skip_pin: true });
    const done = await this.follow(found.id, deployment.id, context);
    const version = versionOf(before.spec);
    if (done.phase !== 'ACTIVE') return { status: 'failed', version, url: await this.liveUrl(found.id), error: `rollback deployment ${done.id} ended ${done.phase}` };
    return { status: 'rolled_back', version, url: await this.liveUrl(found.id) };
  }

  async metrics(app: string, environment: string): Promise<InstanceMetrics[]> {
    const found = await this.findApp(this.nameFor(app, environment));
    const service = found?.active_deployment?.spec.services[0];
    if (!found || !service) return [];
    const end = Math.floor(Date.now() / 1000);
    const query = `app_id=${found.id}&app_component=${service.name}&start=${end - 300}&end=${end}`;
    type Series = { data: { result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> } };
    const [cpu, memory] = await Promise.all(
      ['cpu_percentage', 'memory_percentage'].map((metric) => this.api<Series>('GET', `/v2/monitoring/metrics/apps/${metric}?${query}`)),
    );
    const sizeGb = Number(/(\d+(?:\.\d+)?)gb$/.exec(service.instance_size_slug)?.[1] ?? 0);
    const last = (series: Series, i: number) => Number(series.data.result[i]?.values.at(-1)?.[1] ?? 0);
    return cpu!.data.result.map((series, i) => ({
      id: series.metric.instance ?? `${found.id}/${service.name}/${i}`,
      version: versionOf(found.active_deployment!.spec),
      cpuPercent: last(cpu!, i),
      memoryBytes: Math.round((last(memory!, i) / 100) * sizeGb * 1024 ** 3),
    }));
  }
}

serveDeployProvider((target) => new DigitalOceanAppPlatform(target));
