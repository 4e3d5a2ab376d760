/**
 * flowyard/azure-container-apps: the deploy provider `azure_container_apps`, on the Azure Resource Manager REST API
 * for Microsoft.App/containerApps (https://learn.microsoft.com/rest/api/resource-manager/containerapps/) with fetch.
 * A container app per Flowyard app and environment in single-revision mode: each deploy is a new revision; one that
 * does not become healthy is replaced by the previous revision's template again. Authenticates as a service principal
 * (client credentials, https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow).
 */
import type { AppStatus, DeployContext, DeployOutcome, DeployPlan, DeployProvider, InstanceMetrics } from '../../../runners/deploy/provider.ts';
import type { PluginTarget } from '../../../runners/plugins/deploy-grpc.ts';
import { serveDeployProvider } from '../../../runners/plugins/deploy-serve.ts';

interface Settings {
  subscription_id: string;
  resource_group: string;
  managed_environment_id: string;
  app_name?: string;
  tenant_id: string;
  client_id: string;
  client_secret_secret: string;
  target_port: number;
  cpu: number;
  memory: string;
  management_url: string;
  login_url: string;
  poll_interval_ms: number;
  deploy_timeout_seconds: number;
}

/** An API answer as JSON.parse gives it: read field by field where it is used. */
type Json = Record<string, ReturnType<typeof JSON.parse>>;
const API_VERSION = '2024-03-01';

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

export class AzureContainerApps implements DeployProvider {
  readonly name = 'azure_container_apps';
  private readonly settings: Settings;
  private readonly clientSecret: string;
  private token: { value: string; expires: number } | undefined;

  constructor(private readonly target: PluginTarget) {
    this.settings = {
      target_port: 8080,
      cpu: 0.5,
      memory: '1Gi',
      management_url: 'https://management.azure.com',
      login_url: 'https://login.microsoftonline.com',
      poll_interval_ms: 5000,
      deploy_timeout_seconds: 900,
      ...(target.settings as Partial<Settings>),
    } as Settings;
    const secret = target.secrets[this.settings.client_secret_secret];
    if (!secret) throw new Error(`the secret ${this.settings.client_secret_secret} (settings.client_secret_secret) holding the service principal's secret was not sent`);
    this.clientSecret = secret;
  }

  private async accessToken(): Promise<string> {
    if (this.token && this.token.expires > Date.now() + 60_000) return this.token.value;
    const response = await fetch(`${this.settings.login_url}/${this.settings.tenant_id}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: this.settings.client_id,
        client_secret: this.clientSecret,
        scope: `${this.settings.management_url}/.default`,
      }),
    });
    const answer = (await response.json()) as Json;
    if (!response.ok) throw new Error(`Microsoft Entra token for client ${this.settings.client_id}: ${response.status} ${answer.error_description ?? answer.error}`);
    this.token = { value: answer.access_token, expires: Date.now() + Number(answer.expires_in) * 1000 };
    return this.token.value;
  }

  private async api(method: string, url: string, body?: unknown): Promise<{ json: Json; status: number; asyncOperation: string | null }> {
    const response = await fetch(url.startsWith('http') ? url : `${this.settings.management_url}${url}${url.includes('?') ? '&' : '?'}api-version=${API_VERSION}`, {
      method,
      headers: { authorization: `Bearer ${await this.accessToken()}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    const json = (text ? JSON.parse(text) : {}) as Json;
    if (!response.ok) throw Object.assign(new Error(`Azure ${method} ${url.split('?')[0]}: ${response.status} ${json.error?.message ?? text.slice(0, 200)}`), { status: response.status });
    return { json, status: response.status, asyncOperation: response.headers.get('azure-asyncoperation') };
  }

  private appName = (app: string, environment: string) =>
    this.settings.app_name ??
    `${app}-${environment}`
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^[^a-z]+|-+$/g, '')
      .slice(0, 32);
  private appPath = (name: string) =>
    `/subscriptions/${this.settings.subscription_id}/resourceGroups/${this.settings.resource_group}/providers/Microsoft.App/containerApps/${name}`;

  private async app(name: string): Promise<Json | null> {
    try {
      return (await this.api('GET', this.appPath(name))).json;
    } catch (error) {
      if ((error as { status?: number }).status === 404) return null;
      throw error;
    }
  }

  /** Waits for an Azure-AsyncOperation to end; returns its error, if any. */
  private async settle(asyncOperation: string | null, context: DeployContext): Promise<string | null> {
    if (!asyncOperation) return null;
    const deadline = Date.now() + this.settings.deploy_timeout_seconds * 1000;
    for (;;) {
      const { json } = await this.api('GET', asyncOperation);
      if (json.status === 'Succeeded') return null;
      if (json.status === 'Failed' || json.status === 'Canceled') return `${json.status}: ${json.error?.message ?? 'no reason given'}`;
      if (context.signal.aborted || Date.now() > deadline) return context.signal.aborted ? 'cancelled' : 'timed out';
      await sleep(this.settings.poll_interval_ms, context.signal);
    }
  }

  /** Follows the app's latest revision until it is healthy or unhealthy. */
  private async revisionHealth(name: string, context: DeployContext): Promise<{ revision: string; healthy: boolean }> {
    const deadline = Date.now() + this.settings.deploy_timeout_seconds * 1000;
    let last = '';
    for (;;) {
      const app = (await this.app(name))!;
      const revision = app.properties.latestRevisionName as string;
      const { json } = await this.api('GET', `${this.appPath(name)}/revisions/${revision}`);
      const line = `${json.properties.healthState} (${json.properties.runningState}, ${json.properties.replicas ?? 0} replicas)`;
      if (line !== last) context.log(`revision ${revision}: ${(last = line)}`);
      if (json.properties.healthState === 'Healthy') return { revision, healthy: true };
      if (json.properties.healthState === 'Unhealthy' || context.signal.aborted || Date.now() > deadline) return { revision, healthy: false };
      await sleep(this.settings.poll_interval_ms, context.signal);
    }
  }

  async testConnection(): Promise<string> {
    const { json } = await this.api('GET', `/subscriptions/${this.settings.subscription_id}/resourceGroups/${this.settings.resource_group}/providers/Microsoft.App/containerApps`);
    return `Azure Container Apps in ${this.settings.resource_group} (${(json.value ?? []).length} apps)`;
  }

  async pushImage(image: string, context: DeployContext): Promise<void> {
    context.log(`Container Apps pulls ${image} from its registry (Azure Container Registry or another it can read); push it with step.docker_push`);
  }

  async pullImage(image: string, context: DeployContext): Promise<void> {
    context.log(`Container Apps pulls ${image} itself when a revision starts`);
  }

  private template(plan: DeployPlan, name: string): Json {
    return {
      revisionSuffix: plan.deploymentId.slice(0, 8),
      containers: [
        {
          name,
          image: plan.image,
          resources: { cpu: this.settings.cpu, memory: this.settings.memory },
          probes: [
            {
              type: 'Readiness',
              httpGet: { path: plan.healthCheck.path, port: this.settings.target_port },
              periodSeconds: Math.max(1, Math.ceil(plan.healthCheck.intervalMs / 1000)),
              timeoutSeconds: Math.max(1, Math.ceil(plan.healthCheck.timeoutMs / 1000)),
              successThreshold: plan.healthCheck.healthyThreshold,
            },
          ],
        },
      ],
      scale: { minReplicas: plan.replicas, maxReplicas: Math.max(plan.replicas, 1) },
    };
  }

  async deploy(plan: DeployPlan, context: DeployContext): Promise<DeployOutcome> {
    const version = plan.version ?? tagOf(plan.image);
    if (plan.strategy !== 'rolling') return { status: 'failed', version, url: null, error: `azure_container_apps deploys in single-revision mode (rolling); ${plan.strategy} is not available` };
    const name = this.appName(plan.app, plan.environment);
    const existing = await this.app(name);
    const body = existing
      ? { ...existing, properties: { ...existing.properties, template: this.template(plan, name) } }
      : {
          location: this.target.region,
          properties: {
            managedEnvironmentId: this.settings.managed_environment_id,
            configuration: { activeRevisionsMode: 'Single', ingress: { external: true, targetPort: this.settings.target_port } },
            template: this.template(plan, name),
          },
        };
    context.log(`${existing ? 'updating' : 'creating'} container app ${name} with ${plan.image}`);
    const { asyncOperation } = await this.api('PUT', this.appPath(name), body);
    let error = await this.settle(asyncOperation, context);
    if (!error) {
      const health = await this.revisionHealth(name, context);
      if (!health.healthy) error = `revision ${health.revision} is not healthy`;
    }
    const url = async () => ((await this.app(name))?.properties?.configuration?.ingress?.fqdn ? `https://${(await this.app(name))!.properties.configuration.ingress.fqdn}` : null);
    if (!error) return { status: 'deployed', version, url: await url() };
    if (!existing || (!plan.rollbackOnFailure && !context.signal.aborted)) return { status: 'failed', version, url: await url(), error };
    context.log(`restoring the template of ${existing.properties.latestReadyRevisionName}`);
    const restore = await this.api('PUT', this.appPath(name), existing);
    await this.settle(restore.asyncOperation, { ...context, signal: new AbortController().signal });
    return { status: 'rolled_back', version, url: await url(), error };
  }

  async status(app: string, environment: string): Promise<AppStatus> {
    const name = this.appName(app, environment);
    const found = await this.app(name);
    const revision = found?.properties?.latestReadyRevisionName as string | undefined;
    if (!found || !revision) return { app, environment, deploymentId: null, version: null, slot: null, instances: [] };
    const version = tagOf(found.properties.template.containers[0].image);
    const fqdn = found.properties.configuration?.ingress?.fqdn;
    const { json } = await this.api('GET', `${this.appPath(name)}/revisions/${revision}/replicas`);
    return {
      app,
      environment,
      deploymentId: revision,
      version,
      slot: null,
      instances: ((json.value ?? []) as Json[]).map((replica) => ({
        id: replica.name,
        version,
        slot: revision,
        url: fqdn ? `https://${fqdn}` : '',
        state: String(replica.properties?.runningState ?? 'unknown').toLowerCase(),
      })),
    };
  }

  async rollback(app: string, environment: string, context: DeployContext): Promise<DeployOutcome> {
    const name = this.appName(app, environment);
    const found = await this.app(name);
    if (!found) throw new Error(`container app ${name} does not exist`);
    const { json } = await this.api('GET', `${this.appPath(name)}/revisions`);
    const revisions = ((json.value ?? []) as Json[]).sort((a, b) => String(b.properties.createdTime).localeCompare(String(a.properties.createdTime)));
    const at = revisions.findIndex((r) => r.name === found.properties.latestReadyRevisionName);
    const before = revisions[at + 1];
    if (at < 0 || !before) throw new Error(`container app ${name} has no revision before ${found.properties.latestReadyRevisionName} to roll back to`);
    const { json: detail } = await this.api('GET', `${this.appPath(name)}/revisions/${before.name}`);
    const version = tagOf(detail.properties.template.containers[0].image);
    context.log(`rolling ${name} back to the template of ${before.name} (${version})`);
    const template = { ...detail.properties.template, revisionSuffix: `rb-${Date.now().toString(36)}` };
    const { asyncOperation } = await this.api('PUT', this.appPath(name), { ...found, properties: { ...found.properties, template } });
    const error = (await this.settle(asyncOperation, context)) ?? ((await this.revisionHealth(name, context)).healthy ? null : 'the rolled back revision is not healthy');
    const fqdn = found.properties.configuration?.ingress?.fqdn;
    return error ? { status: 'failed', version, url: fqdn ? `https://${fqdn}` : null, error } : { status: 'rolled_back', version, url: fqdn ? `https://${fqdn}` : null };
  }

  async metrics(app: string, environment: string): Promise<InstanceMetrics[]> {
    const name = this.appName(app, environment);
    const found = await this.app(name);
    if (!found) return [];
    const end = new Date();
    const timespan = `${new Date(end.getTime() - 600_000).toISOString()}/${end.toISOString()}`;
    const { json } = await this.api(
      'GET',
      `${this.settings.management_url}${this.appPath(name)}/providers/Microsoft.Insights/metrics?api-version=2018-01-01&metricnames=UsageNanoCores,WorkingSetBytes&aggregation=Average&interval=PT1M&timespan=${encodeURIComponent(timespan)}`,
    );
    const latest = (metric: string) => {
      const points = ((json.value ?? []) as Json[]).find((m) => m.name?.value === metric)?.timeseries?.[0]?.data ?? [];
      return Number([...points].reverse().find((p: Json) => p.average !== undefined)?.average ?? 0);
    };
    // Azure Monitor reports the app, not each replica: one entry, CPU in percent of the cores the template asks for.
    return [
      {
        id: name,
        version: tagOf(found.properties.template.containers[0].image),
        cpuPercent: (latest('UsageNanoCores') / 1e9 / this.settings.cpu) * 100,
        memoryBytes: Math.round(latest('WorkingSetBytes')),
      },
    ];
  }
}

serveDeployProvider((target) => new AzureContainerApps(target));
