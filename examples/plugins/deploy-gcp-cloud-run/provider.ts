/**
 * flowyard/gcp-cloud-run: the deploy provider `gcp_cloud_run`, on the Cloud Run Admin API v2
 * (https://cloud.google.com/run/docs/reference/rest) with fetch. A service per Flowyard app and environment; each
 * deploy is a new revision that takes all traffic once it is ready. Cloud Run keeps traffic on the serving revision
 * when a new one fails to start; rolling back moves traffic to the revision before. Authenticates with a service
 * account key (a signed JWT exchanged for an access token, https://developers.google.com/identity/protocols/oauth2/service-account).
 */
import { createSign } from 'node:crypto';
import type { AppStatus, DeployContext, DeployOutcome, DeployPlan, DeployProvider, InstanceMetrics } from '../../../runners/deploy/provider.ts';
import type { PluginTarget } from '../../../runners/plugins/deploy-grpc.ts';
import { serveDeployProvider } from '../../../runners/plugins/deploy-serve.ts';

interface Settings {
  project: string;
  service?: string;
  credentials_secret: string;
  port: number;
  api_url: string;
  monitoring_url: string;
  poll_interval_ms: number;
  deploy_timeout_seconds: number;
}

/** An API answer as JSON.parse gives it: read field by field where it is used. */
type Json = Record<string, ReturnType<typeof JSON.parse>>;
const base64url = (data: string | Buffer) => Buffer.from(data).toString('base64url');

const tagOf = (image: string) => {
  const name = image.split('@')[0]!;
  const colon = name.lastIndexOf(':');
  return image.includes('@') ? image.split('@')[1]!.slice(0, 19) : colon > name.lastIndexOf('/') ? name.slice(colon + 1) : 'latest';
};

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

export class CloudRun implements DeployProvider {
  readonly name = 'gcp_cloud_run';
  private readonly settings: Settings;
  private readonly key: { client_email: string; private_key: string; token_uri?: string };
  private token: { value: string; expires: number } | undefined;

  constructor(private readonly target: PluginTarget) {
    this.settings = {
      port: 8080,
      api_url: 'https://run.googleapis.com',
      monitoring_url: 'https://monitoring.googleapis.com',
      poll_interval_ms: 5000,
      deploy_timeout_seconds: 900,
      ...(target.settings as Partial<Settings>),
    } as Settings;
    if (!target.region) throw new Error('deploy.target region is required for gcp_cloud_run (e.g. europe-west1)');
    const json = target.secrets[this.settings.credentials_secret];
    if (!json) throw new Error(`the secret ${this.settings.credentials_secret} (settings.credentials_secret) holding the service account key was not sent`);
    try {
      this.key = JSON.parse(json);
    } catch {
      throw new Error(`the secret ${this.settings.credentials_secret} is not a service account key (JSON)`);
    }
  }

  private async accessToken(): Promise<string> {
    if (this.token && this.token.expires > Date.now() + 60_000) return this.token.value;
    const now = Math.floor(Date.now() / 1000);
    const tokenUri = this.key.token_uri ?? 'https://oauth2.googleapis.com/token';
    const claims = { iss: this.key.client_email, scope: 'https://www.googleapis.com/auth/cloud-platform', aud: tokenUri, iat: now, exp: now + 3600 };
    const unsigned = `${base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }))}.${base64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(unsigned).sign(this.key.private_key);
    const response = await fetch(tokenUri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: `${unsigned}.${base64url(signature)}` }),
    });
    const answer = (await response.json()) as Json;
    if (!response.ok) throw new Error(`Google token exchange for ${this.key.client_email}: ${response.status} ${answer.error_description ?? answer.error}`);
    this.token = { value: answer.access_token, expires: Date.now() + Number(answer.expires_in) * 1000 };
    return this.token.value;
  }

  private async api(method: string, url: string, body?: unknown): Promise<Json> {
    const response = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${await this.accessToken()}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    const json = (text ? JSON.parse(text) : {}) as Json;
    if (!response.ok) throw Object.assign(new Error(`Cloud Run ${method} ${new URL(url).pathname}: ${response.status} ${json.error?.message ?? text.slice(0, 200)}`), { status: response.status });
    return json;
  }

  private parent = () => `${this.settings.api_url}/v2/projects/${this.settings.project}/locations/${this.target.region}`;
  private serviceId = (app: string, environment: string) =>
    this.settings.service ??
    `${app}-${environment}`
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^[^a-z]+|-+$/g, '')
      .slice(0, 49);

  private async service(id: string): Promise<Json | null> {
    try {
      return await this.api('GET', `${this.parent()}/services/${id}`);
    } catch (error) {
      if ((error as { status?: number }).status === 404) return null;
      throw error;
    }
  }

  /** Waits for a long-running operation; returns its error message, if any. */
  private async operation(operation: Json, context: DeployContext): Promise<string | null> {
    const deadline = Date.now() + this.settings.deploy_timeout_seconds * 1000;
    let current = operation;
    while (!current.done) {
      if (context.signal.aborted || Date.now() > deadline) return context.signal.aborted ? 'cancelled' : 'timed out';
      await sleep(this.settings.poll_interval_ms, context.signal);
      current = await this.api('GET', `${this.settings.api_url}/v2/${current.name}`);
    }
    return current.error ? `${current.error.message ?? 'failed'}` : null;
  }

  async testConnection(): Promise<string> {
    const { services = [] } = await this.api('GET', `${this.parent()}/services`);
    return `Cloud Run in ${this.settings.project}/${this.target.region} as ${this.key.client_email} (${services.length} services)`;
  }

  async pushImage(image: string, context: DeployContext): Promise<void> {
    context.log(`Cloud Run pulls ${image} from Artifact Registry (or another registry it can read) when a revision starts; push it with step.docker_push`);
  }

  async pullImage(image: string, context: DeployContext): Promise<void> {
    context.log(`Cloud Run pulls ${image} itself when a revision starts`);
  }

  async deploy(plan: DeployPlan, context: DeployContext): Promise<DeployOutcome> {
    const version = plan.version ?? tagOf(plan.image);
    if (plan.strategy === 'blue_green') return { status: 'failed', version, url: null, error: 'gcp_cloud_run deploys rolling or canary; blue_green is not available' };
    const id = this.serviceId(plan.app, plan.environment);
    const existing = await this.service(id);
    const previous: string | undefined = existing?.latestReadyRevision?.split('/').at(-1);
    const revision = `${id}-${plan.deploymentId.slice(0, 8)}`;
    const template = {
      revision,
      scaling: { minInstanceCount: plan.replicas },
      containers: [
        {
          image: plan.image,
          ports: [{ containerPort: this.settings.port }],
          startupProbe: { httpGet: { path: plan.healthCheck.path }, periodSeconds: Math.max(1, Math.ceil(plan.healthCheck.intervalMs / 1000)), timeoutSeconds: Math.max(1, Math.ceil(plan.healthCheck.timeoutMs / 1000)) },
        },
      ],
    };
    const firstWeight = plan.strategy === 'canary' && previous ? (plan.canary[0]?.weight ?? 100) : 100;
    const traffic = firstWeight < 100 ? [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision, percent: firstWeight }, { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: previous, percent: 100 - firstWeight }] : [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 100 }];
    context.log(`${existing ? 'updating' : 'creating'} Cloud Run service ${id}: revision ${revision} with ${plan.image}`);
    const operation = existing
      ? await this.api('PATCH', `${this.parent()}/services/${id}`, { ...existing, template: { ...existing.template, ...template }, traffic })
      : await this.api('POST', `${this.parent()}/services?serviceId=${id}`, { template, traffic });
    let error = await this.operation(operation, context);
    for (const step of plan.strategy === 'canary' && !error && previous ? plan.canary.slice(1) : []) {
      await sleep(plan.canary[plan.canary.indexOf(step) - 1]?.pauseMs ?? 0, context.signal);
      if (context.signal.aborted) break;
      context.log(`canary: ${step.weight}% to ${revision}`);
      const current = (await this.service(id))!;
      const split = step.weight >= 100 ? [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 100 }] : [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision, percent: step.weight }, { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: previous, percent: 100 - step.weight }];
      error = await this.operation(await this.api('PATCH', `${this.parent()}/services/${id}`, { ...current, traffic: split }), context);
      if (error) break;
    }
    if (context.signal.aborted) error ??= 'cancelled';
    const service = await this.service(id);
    if (!error) return { status: 'deployed', version, url: service?.uri ?? null };
    if (!previous || (!plan.rollbackOnFailure && !context.signal.aborted)) return { status: 'failed', version, url: service?.uri ?? null, error };
    context.log(`moving all traffic back to ${previous}`);
    const back = await this.api('PATCH', `${this.parent()}/services/${id}`, { ...service, template: existing!.template, traffic: [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: previous, percent: 100 }] });
    await this.operation(back, { ...context, signal: new AbortController().signal });
    return { status: 'rolled_back', version, url: service?.uri ?? null, error };
  }

  async status(app: string, environment: string): Promise<AppStatus> {
    const service = await this.service(this.serviceId(app, environment));
    if (!service) return { app, environment, deploymentId: null, version: null, slot: null, instances: [] };
    const statuses = (service.trafficStatuses ?? []) as Json[];
    const instances = await Promise.all(
      statuses
        .filter((s) => s.percent > 0)
        .map(async (s) => {
          const revision = s.revision || service.latestReadyRevision?.split('/').at(-1);
          const detail = await this.api('GET', `${this.parent()}/services/${service.name.split('/').at(-1)}/revisions/${revision}`);
          return { id: revision, version: tagOf(detail.containers?.[0]?.image ?? ''), slot: `${s.percent}%`, url: service.uri ?? '', state: detail.reconciling ? 'deploying' : 'serving' };
        }),
    );
    const live = instances.find((i) => i.id === service.latestReadyRevision?.split('/').at(-1)) ?? instances[0];
    return { app, environment, deploymentId: live?.id ?? null, version: live?.version ?? null, slot: live?.slot ?? null, instances };
  }

  async rollback(app: string, environment: string, context: DeployContext): Promise<DeployOutcome> {
    const id = this.serviceId(app, environment);
    const service = await this.service(id);
    if (!service) throw new Error(`Cloud Run service ${id} does not exist`);
    const { revisions = [] } = await this.api('GET', `${this.parent()}/services/${id}/revisions`);
    const serving = ((service.trafficStatuses ?? []) as Json[]).find((s) => s.percent === 100)?.revision || service.latestReadyRevision?.split('/').at(-1);
    const ordered = (revisions as Json[]).sort((a, b) => String(b.createTime).localeCompare(String(a.createTime)));
    const at = ordered.findIndex((r) => r.name.split('/').at(-1) === serving);
    const before = ordered.slice(at + 1).find((r) => (r.conditions as Json[] | undefined)?.some((c) => c.type === 'Ready' && c.state === 'CONDITION_SUCCEEDED') ?? true);
    if (!before) throw new Error(`Cloud Run service ${id} has no revision before ${serving} to roll back to`);
    const revision = before.name.split('/').at(-1);
    const version = tagOf(before.containers?.[0]?.image ?? '');
    context.log(`moving all traffic of ${id} to ${revision} (${version})`);
    const error = await this.operation(await this.api('PATCH', `${this.parent()}/services/${id}`, { ...service, traffic: [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision, percent: 100 }] }), context);
    if (error) return { status: 'failed', version, url: service.uri ?? null, error };
    return { status: 'rolled_back', version, url: service.uri ?? null };
  }

  async metrics(app: string, environment: string): Promise<InstanceMetrics[]> {
    const id = this.serviceId(app, environment);
    const end = new Date();
    const series = async (metric: string) => {
      const query = new URLSearchParams({
        filter: `metric.type="run.googleapis.com/container/${metric}/utilizations" AND resource.labels.service_name="${id}"`,
        'interval.startTime': new Date(end.getTime() - 600_000).toISOString(),
        'interval.endTime': end.toISOString(),
        'aggregation.alignmentPeriod': '60s',
        'aggregation.perSeriesAligner': 'ALIGN_PERCENTILE_50',
      });
      const { timeSeries = [] } = await this.api('GET', `${this.settings.monitoring_url}/v3/projects/${this.settings.project}/timeSeries?${query}`);
      return timeSeries as Json[];
    };
    const [cpu, memory] = await Promise.all([series('cpu'), series('memory')]);
    const service = await this.service(id);
    const limit = String(service?.template?.containers?.[0]?.resources?.limits?.memory ?? '512Mi');
    const limitBytes = Number.parseFloat(limit) * (limit.endsWith('Gi') ? 1024 ** 3 : 1024 ** 2);
    // Cloud Monitoring reports utilisation per revision, not per instance.
    return cpu.map((s) => {
      const revision = s.resource.labels.revision_name as string;
      const mem = memory.find((m) => m.resource.labels.revision_name === revision);
      return {
        id: revision,
        version: revision,
        cpuPercent: Number(s.points?.[0]?.value?.doubleValue ?? 0) * 100,
        memoryBytes: Math.round(Number(mem?.points?.[0]?.value?.doubleValue ?? 0) * limitBytes),
      };
    });
  }
}

serveDeployProvider((target) => new CloudRun(target));
