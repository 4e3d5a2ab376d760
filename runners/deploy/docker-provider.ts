import { randomUUID } from 'node:crypto';
import Dockerode from 'dockerode';
import { errorMessage, imageExists } from '../docker/engine.ts';
import { instanceUrl, listInstances, parsePortRange, readState, removeContainer, type Instance, type Slot } from './docker-instances.ts';
import { CancelledError } from './health.ts';
import type { AppStatus, DeployContext, DeployOutcome, DeployPlan, DeployProvider, DeployTarget, InstanceMetrics, Release } from './provider.ts';
import { Rollout, strategies, type Endpoint } from './rollout.ts';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

/** `unix:///var/run/docker.sock` or `tcp://host:2375` → dockerode options and the host apps answer on. */
function engineOptions(dockerHost: string): { options: Dockerode.DockerOptions; host: string | null } {
  const url = new URL(dockerHost);
  if (url.protocol === 'unix:') return { options: { socketPath: url.pathname }, host: null };
  if (url.protocol === 'tcp:') return { options: { host: url.hostname, port: Number(url.port || 2375), protocol: 'http' }, host: url.hostname };
  throw new Error(`docker_host "${dockerHost}" is not a unix:// or tcp:// URL`);
}

/**
 * Deploys to one Docker engine. Instances run on the host network, each on its own port passed in $PORT,
 * and are labelled flowyard.app / .env / .version / .deployment / .slot / .port. The live deployment is
 * kept in a state record (see docker-instances.ts), so an interrupted deployment never hides the live one.
 */
export class DockerProvider implements DeployProvider {
  readonly name = 'docker' as const;

  constructor(
    private readonly docker: Dockerode,
    private readonly endpoint: Endpoint,
  ) {}

  /** settings.host: where instances answer (default: the docker_host's host, or 127.0.0.1); settings.port_range: e.g. "20000-20999". */
  static forTarget(target: DeployTarget, runnerDocker: Dockerode): DockerProvider {
    const engine = target.docker_host ? engineOptions(target.docker_host) : null;
    const settings = target.settings ?? {};
    const host = typeof settings.host === 'string' ? settings.host : (engine?.host ?? '127.0.0.1');
    const docker = engine ? new Dockerode(engine.options) : runnerDocker;
    return new DockerProvider(docker, { host, portRange: parsePortRange(settings.port_range), checkLocal: LOOPBACK_HOSTS.has(host) });
  }

  async testConnection(): Promise<string> {
    const version = await this.docker.version();
    return `Docker engine ${version.Version} (API ${version.ApiVersion}, ${version.Os}/${version.Arch})`;
  }

  /** The engine runs images it has; publishing to a registry is step.docker_push's job. */
  async pushImage(image: string, context: DeployContext): Promise<void> {
    context.log(`docker provider: ${image} is run from the target engine, nothing to push`);
  }

  async pullImage(image: string, context: DeployContext): Promise<void> {
    if (await imageExists(this.docker, image)) return;
    context.log(`pulling ${image} onto the target engine`);
    const stream = await this.docker.pull(image);
    await new Promise<void>((resolve, reject) => this.docker.modem.followProgress(stream, (error: Error | null) => (error ? reject(error) : resolve())));
    if (!(await imageExists(this.docker, image))) throw new Error(`image "${image}" could not be pulled onto the target engine`);
  }

  async deploy(plan: DeployPlan, context: DeployContext): Promise<DeployOutcome> {
    await this.pullImage(plan.image, context);
    const version = plan.version ?? (await this.docker.getImage(plan.image).inspect()).Id.replace(/^sha256:/, '').slice(0, 12);
    const release: Release = { image: plan.image, version, replicas: plan.replicas, healthCheck: plan.healthCheck };
    const current = await readState(this.docker, plan.app, plan.environment);
    const instances = await listInstances(this.docker, plan.app, plan.environment);
    // Without a state record (first deployment, or a lost record) every instance counts as live.
    const live = current ? instances.filter((instance) => instance.deploymentId === current.deploymentId) : instances;
    for (const leftover of instances.filter((instance) => !live.includes(instance))) {
      await removeContainer(this.docker, leftover.id);
      context.log(`removed ${leftover.name}, left over from unfinished deployment ${leftover.deploymentId}`);
    }
    const currentSlot = current?.slot ?? live[0]?.slot;
    const slot: Slot = currentSlot === 'blue' ? 'green' : 'blue';
    const oldRunning = live.filter((instance) => instance.running);
    context.log(
      `deploying ${plan.app} ${version} to ${plan.environment} (${plan.deploymentId}): ${plan.strategy}, ${plan.replicas} replica(s), colour ${slot}; ` +
        `live now: ${current ? `${current.release.version} (${current.slot})` : 'nothing recorded'}, ${oldRunning.length} instance(s) running`,
    );
    const rollout = new Rollout(this.docker, plan, release, slot, oldRunning, this.endpoint, context);
    try {
      await strategies[plan.strategy](rollout);
      await rollout.commit({ deploymentId: plan.deploymentId, slot, release, previous: current?.release ?? null });
      for (const stopped of live.filter((instance) => !instance.running)) await removeContainer(this.docker, stopped.id);
      return { status: 'deployed', version, url: rollout.url() };
    } catch (error) {
      const cancelled = error instanceof CancelledError || context.signal.aborted;
      const reason = cancelled ? 'cancelled' : errorMessage(error);
      context.log(cancelled ? `deployment of ${version} cancelled` : `deployment of ${version} failed: ${reason}`);
      if (!cancelled && !plan.rollbackOnFailure) {
        context.log('rollback_on_failure is off: the instances are left as they are; the next deployment removes the new ones');
        return { status: 'failed', version, url: rollout.url(), error: reason };
      }
      context.log(`rolling back to ${current?.release.version ?? 'nothing'}`);
      await rollout.rollBack();
      return { status: 'rolled_back', version, url: rollout.url(), error: reason };
    }
  }

  async status(app: string, environment: string): Promise<AppStatus> {
    const current = await readState(this.docker, app, environment);
    const instances = await listInstances(this.docker, app, environment);
    return {
      app,
      environment,
      deploymentId: current?.deploymentId ?? null,
      version: current?.release.version ?? null,
      slot: current?.slot ?? null,
      instances: instances.map((instance) => ({
        id: instance.id,
        version: instance.version,
        slot: instance.slot,
        url: instanceUrl(this.endpoint.host, instance.port),
        state: instance.deploymentId === current?.deploymentId ? (instance.running ? 'live' : 'stopped') : 'not live',
      })),
    };
  }

  /** Deploys the release before the live one again, blue-green, with its own replicas and health check. */
  async rollback(app: string, environment: string, context: DeployContext): Promise<DeployOutcome> {
    const current = await readState(this.docker, app, environment);
    if (!current?.previous) throw new Error(`no earlier release of ${app} in ${environment} is recorded`);
    context.log(`rolling ${app} in ${environment} back from ${current.release.version} to ${current.previous.version}`);
    return this.deploy(
      {
        ...current.previous,
        deploymentId: randomUUID(),
        app,
        environment,
        strategy: 'blue_green',
        rolling: { maxSurge: 1, maxUnavailable: 0 },
        canary: [],
        rollbackOnFailure: true,
      },
      context,
    );
  }

  /** CPU (percent of one core) and memory of each live instance, from one stats sample. */
  async metrics(app: string, environment: string): Promise<InstanceMetrics[]> {
    const current = await readState(this.docker, app, environment);
    const live = (await listInstances(this.docker, app, environment)).filter((instance) => instance.running && instance.deploymentId === current?.deploymentId);
    return Promise.all(live.map((instance) => this.instanceMetrics(instance)));
  }

  private async instanceMetrics(instance: Instance): Promise<InstanceMetrics> {
    const stats = await this.docker.getContainer(instance.id).stats({ stream: false });
    const cpuDelta = stats.cpu_stats.cpu_usage.total_usage - stats.precpu_stats.cpu_usage.total_usage;
    const systemDelta = (stats.cpu_stats.system_cpu_usage ?? 0) - (stats.precpu_stats.system_cpu_usage ?? 0);
    const cpuPercent = systemDelta > 0 ? (cpuDelta / systemDelta) * (stats.cpu_stats.online_cpus ?? 1) * 100 : 0;
    return { id: instance.id, version: instance.version, cpuPercent, memoryBytes: stats.memory_stats.usage ?? 0 };
  }
}
