/**
 * flowyard/aws-ecs: the deploy provider `aws_ecs`, on the Amazon ECS API (JSON 1.1 protocol, Signature Version 4;
 * https://docs.aws.amazon.com/AmazonECS/latest/APIReference/) with fetch. It updates an existing ECS service: a new
 * revision of the service's task definition with the image, then UpdateService with the deployment circuit breaker,
 * which rolls a failed deployment back by itself. CPU and memory come from CloudWatch (JSON 1.0 protocol).
 */
import type { AppStatus, DeployContext, DeployOutcome, DeployPlan, DeployProvider, InstanceMetrics } from '../../../runners/deploy/provider.ts';
import type { PluginTarget } from '../../../runners/plugins/deploy-grpc.ts';
import { serveDeployProvider } from '../../../runners/plugins/deploy-serve.ts';
import { signV4 } from './sigv4.ts';

interface Settings {
  cluster: string;
  service?: string;
  container?: string;
  access_key_id_secret: string;
  secret_access_key_secret: string;
  session_token_secret?: string;
  endpoint?: string;
  monitoring_endpoint?: string;
  poll_interval_ms: number;
  deploy_timeout_seconds: number;
}

/** An API answer as JSON.parse gives it: read field by field where it is used. */
type Json = Record<string, ReturnType<typeof JSON.parse>>;

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

export class AwsEcs implements DeployProvider {
  readonly name = 'aws_ecs';
  private readonly settings: Settings;
  private readonly region: string;
  private readonly credentials: { id: string; secret: string; token?: string };

  constructor(target: PluginTarget) {
    this.settings = { poll_interval_ms: 5000, deploy_timeout_seconds: 1200, ...(target.settings as Partial<Settings>) } as Settings;
    if (!target.region) throw new Error('deploy.target region is required for aws_ecs (e.g. eu-west-1)');
    this.region = target.region;
    const secret = (name: string | undefined) => (name ? target.secrets[name] : undefined);
    const id = secret(this.settings.access_key_id_secret);
    const key = secret(this.settings.secret_access_key_secret);
    if (!id || !key) throw new Error('the AWS access key secrets named by settings.access_key_id_secret and settings.secret_access_key_secret were not sent');
    this.credentials = { id, secret: key, token: secret(this.settings.session_token_secret) };
  }

  private async call(service: 'ecs' | 'monitoring', action: string, input: Json): Promise<Json> {
    const endpoint = service === 'ecs' ? this.settings.endpoint ?? `https://ecs.${this.region}.amazonaws.com` : this.settings.monitoring_endpoint ?? `https://monitoring.${this.region}.amazonaws.com`;
    const url = new URL(endpoint);
    const body = JSON.stringify(input);
    const headers =
      service === 'ecs'
        ? { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `AmazonEC2ContainerServiceV20141113.${action}` }
        : { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `GraniteServiceVersion20100801.${action}` };
    const response = await fetch(url, { method: 'POST', headers: signV4(url, body, headers, this.credentials, this.region, service), body });
    const text = await response.text();
    const json = (text ? JSON.parse(text) : {}) as Json;
    if (!response.ok) throw new Error(`AWS ${service} ${action}: ${response.status} ${json.__type ?? ''} ${json.message ?? json.Message ?? text.slice(0, 200)}`.trim());
    const failure = (json.failures as Json[] | undefined)?.[0];
    if (failure) throw new Error(`AWS ecs ${action}: ${failure.arn ?? ''} ${failure.reason}`);
    return json;
  }

  private serviceName = (app: string, environment: string) => this.settings.service ?? `${app}-${environment}`.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 255);

  private async service(name: string): Promise<Json> {
    const { services } = await this.call('ecs', 'DescribeServices', { cluster: this.settings.cluster, services: [name] });
    const found = (services as Json[])[0];
    if (!found || found.status === 'INACTIVE') {
      throw new Error(`ECS service ${name} does not exist in cluster ${this.settings.cluster}; create it once (network, load balancer), then Flowyard deploys to it`);
    }
    return found;
  }

  private async taskDefinition(arn: string): Promise<Json> {
    return (await this.call('ecs', 'DescribeTaskDefinition', { taskDefinition: arn })).taskDefinition as Json;
  }

  private container(definition: Json): Json {
    const containers = definition.containerDefinitions as Json[];
    const found = this.settings.container ? containers.find((c) => c.name === this.settings.container) : containers[0];
    if (!found) throw new Error(`task definition ${definition.family} has no container ${this.settings.container}`);
    return found;
  }

  async testConnection(): Promise<string> {
    const { clusters } = await this.call('ecs', 'DescribeClusters', { clusters: [this.settings.cluster] });
    const cluster = (clusters as Json[])[0]!;
    return `ECS cluster ${cluster.clusterName} in ${this.region} (${cluster.status}, ${cluster.activeServicesCount} services)`;
  }

  async pushImage(image: string, context: DeployContext): Promise<void> {
    context.log(`ECS pulls ${image} from its registry (ECR or another the task role can read) when tasks start; push it with step.docker_push`);
  }

  async pullImage(image: string, context: DeployContext): Promise<void> {
    context.log(`ECS pulls ${image} itself when tasks start`);
  }

  /** Follows the service's primary deployment until ECS calls it completed or failed. */
  private async follow(name: string, context: DeployContext): Promise<Json> {
    const deadline = Date.now() + this.settings.deploy_timeout_seconds * 1000;
    let last = '';
    for (;;) {
      const service = await this.service(name);
      const primary = (service.deployments as Json[]).find((d) => d.status === 'PRIMARY')!;
      const line = `${primary.rolloutState}: ${primary.runningCount}/${primary.desiredCount} running, ${primary.failedTasks ?? 0} failed`;
      if (line !== last) context.log(`deployment ${primary.id}: ${(last = line)}`);
      if (primary.rolloutState !== 'IN_PROGRESS' || context.signal.aborted || Date.now() > deadline) return { service, primary };
      await sleep(this.settings.poll_interval_ms, context.signal);
    }
  }

  private async update(name: string, taskDefinition: string, desiredCount: number | undefined, plan: DeployPlan | null, context: DeployContext) {
    await this.call('ecs', 'UpdateService', {
      cluster: this.settings.cluster,
      service: name,
      taskDefinition,
      ...(desiredCount === undefined ? {} : { desiredCount }),
      ...(plan
        ? {
            deploymentConfiguration: {
              maximumPercent: 100 + Math.ceil((plan.rolling.maxSurge / Math.max(1, plan.replicas)) * 100),
              minimumHealthyPercent: Math.max(0, 100 - Math.floor((plan.rolling.maxUnavailable / Math.max(1, plan.replicas)) * 100)),
              deploymentCircuitBreaker: { enable: true, rollback: plan.rollbackOnFailure },
            },
          }
        : {}),
    });
    return this.follow(name, context);
  }

  async deploy(plan: DeployPlan, context: DeployContext): Promise<DeployOutcome> {
    const version = plan.version ?? tagOf(plan.image);
    if (plan.strategy !== 'rolling') return { status: 'failed', version, url: null, error: `aws_ecs deploys rolling (ECS's own deployment controller); ${plan.strategy} is not available` };
    const name = this.serviceName(plan.app, plan.environment);
    const service = await this.service(name);
    const current = await this.taskDefinition(service.taskDefinition as string);
    const container = this.container(current);
    context.log(`registering a revision of ${current.family} with ${container.name} = ${plan.image}`);
    const { family, containerDefinitions, taskRoleArn, executionRoleArn, networkMode, volumes, placementConstraints, requiresCompatibilities, cpu, memory, runtimePlatform } = current;
    const registered = await this.call('ecs', 'RegisterTaskDefinition', {
      family,
      taskRoleArn,
      executionRoleArn,
      networkMode,
      volumes,
      placementConstraints,
      requiresCompatibilities,
      cpu,
      memory,
      runtimePlatform,
      containerDefinitions: (containerDefinitions as Json[]).map((c) => (c.name === container.name ? { ...c, image: plan.image } : c)),
    });
    const arn = (registered.taskDefinition as Json).taskDefinitionArn as string;
    context.log(`updating service ${name} in ${this.settings.cluster} to ${arn} (${plan.replicas} tasks)`);
    const { primary } = await this.update(name, arn, plan.replicas, plan, context);
    if (primary.rolloutState === 'COMPLETED' && primary.taskDefinition === arn) return { status: 'deployed', version, url: null };
    if (primary.rolloutState === 'IN_PROGRESS') {
      context.log(`going back to ${service.taskDefinition}`);
      await this.update(name, service.taskDefinition as string, undefined, null, { ...context, signal: new AbortController().signal });
      return { status: 'rolled_back', version, url: null, error: context.signal.aborted ? 'cancelled' : 'the deployment did not finish in time' };
    }
    const error = `deployment ${primary.id} ${primary.rolloutState}: ${primary.rolloutStateReason ?? 'no reason given'}`;
    return { status: primary.taskDefinition === arn ? 'failed' : 'rolled_back', version, url: null, error };
  }

  async status(app: string, environment: string): Promise<AppStatus> {
    const name = this.serviceName(app, environment);
    const service = await this.service(name);
    const definition = await this.taskDefinition(service.taskDefinition as string);
    const version = tagOf(this.container(definition).image as string);
    const { taskArns } = await this.call('ecs', 'ListTasks', { cluster: this.settings.cluster, serviceName: name });
    const tasks = (taskArns as string[]).length ? ((await this.call('ecs', 'DescribeTasks', { cluster: this.settings.cluster, tasks: taskArns })).tasks as Json[]) : [];
    const primary = (service.deployments as Json[]).find((d) => d.status === 'PRIMARY');
    return {
      app,
      environment,
      deploymentId: primary?.id ?? null,
      version,
      slot: null,
      instances: tasks.map((task) => ({
        id: task.taskArn,
        version: tagOf(((task.containers as Json[])[0]?.image as string) ?? ''),
        slot: task.taskDefinitionArn === service.taskDefinition ? 'live' : 'old',
        url: '',
        state: String(task.lastStatus).toLowerCase(),
      })),
    };
  }

  async rollback(app: string, environment: string, context: DeployContext): Promise<DeployOutcome> {
    const name = this.serviceName(app, environment);
    const service = await this.service(name);
    const current = await this.taskDefinition(service.taskDefinition as string);
    const { taskDefinitionArns } = await this.call('ecs', 'ListTaskDefinitions', { familyPrefix: current.family, sort: 'DESC', status: 'ACTIVE' });
    const previous = (taskDefinitionArns as string[]).find((arn) => Number(arn.split(':').at(-1)) < Number(current.revision));
    if (!previous) throw new Error(`task definition family ${current.family} has no revision before ${current.revision} to roll back to`);
    const version = tagOf(this.container(await this.taskDefinition(previous)).image as string);
    context.log(`rolling ${name} back to ${previous} (${version})`);
    const { primary } = await this.update(name, previous, undefined, null, context);
    if (primary.rolloutState !== 'COMPLETED') return { status: 'failed', version, url: null, error: `rollback ${primary.rolloutState}: ${primary.rolloutStateReason ?? ''}` };
    return { status: 'rolled_back', version, url: null };
  }

  async metrics(app: string, environment: string): Promise<InstanceMetrics[]> {
    const name = this.serviceName(app, environment);
    const service = await this.service(name);
    const definition = await this.taskDefinition(service.taskDefinition as string);
    const end = Math.floor(Date.now() / 1000);
    const query = (id: string, metric: string) => ({
      Id: id,
      MetricStat: {
        Metric: { Namespace: 'AWS/ECS', MetricName: metric, Dimensions: [{ Name: 'ClusterName', Value: this.settings.cluster }, { Name: 'ServiceName', Value: name }] },
        Period: 60,
        Stat: 'Average',
      },
    });
    const { MetricDataResults } = await this.call('monitoring', 'GetMetricData', {
      StartTime: end - 600,
      EndTime: end,
      MetricDataQueries: [query('cpu', 'CPUUtilization'), query('memory', 'MemoryUtilization')],
    });
    const latest = (id: string) => Number((MetricDataResults as Json[]).find((r) => r.Id === id)?.Values?.[0] ?? 0);
    // ECS reports the service's average, not each task's: one entry for the service.
    return [{ id: name, version: tagOf(this.container(definition).image as string), cpuPercent: latest('cpu'), memoryBytes: Math.round((latest('memory') / 100) * Number(definition.memory ?? 0) * 1024 ** 2) }];
  }
}

serveDeployProvider((target) => new AwsEcs(target));
