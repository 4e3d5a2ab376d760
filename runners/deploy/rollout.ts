import type Dockerode from 'dockerode';
import {
  allocatePorts,
  instanceUrl,
  instanceFailure,
  removeContainer,
  restartContainer,
  startInstance,
  stopContainer,
  writeState,
  type DeployState,
  type Instance,
  type Slot,
} from './docker-instances.ts';
import { pause, throwIfCancelled, waitHealthy } from './health.ts';
import type { DeployContext, DeployPlan, Release, Strategy } from './provider.ts';

/** Where instances of a docker target answer and which ports they may take. */
export interface Endpoint {
  host: string;
  portRange: readonly [number, number];
  /** Whether `host` is this machine's loopback, so that a port can be checked for listeners. */
  checkLocal: boolean;
}

/**
 * One deployment in progress: the new instances started so far (each healthy before the call that started
 * it returns) and the old ones, running or stopped by this deployment. Old instances are only stopped
 * until the deployment commits, so a rollback can start them again on their own ports.
 */
export class Rollout {
  readonly started: Instance[] = [];
  readonly retired: Instance[] = [];
  private committed = false;

  constructor(
    private readonly docker: Dockerode,
    readonly plan: DeployPlan,
    readonly release: Release,
    readonly slot: Slot,
    readonly oldRunning: Instance[],
    private readonly endpoint: Endpoint,
    private readonly context: DeployContext,
  ) {}

  get signal(): AbortSignal {
    return this.context.signal;
  }

  log(line: string): void {
    this.context.log(line);
  }

  /** Starts `count` new instances, then waits until every one of them passes its health check. */
  async startNew(count: number): Promise<void> {
    throwIfCancelled(this.context.signal);
    const ports = await allocatePorts(this.docker, this.endpoint.portRange, count, this.endpoint.checkLocal);
    const batch: Instance[] = [];
    for (const port of ports) {
      throwIfCancelled(this.context.signal);
      const { app, environment, deploymentId } = this.plan;
      const instance = await startInstance(this.docker, {
        app,
        environment,
        deploymentId,
        image: this.release.image,
        version: this.release.version,
        slot: this.slot,
        port,
      });
      this.started.push(instance);
      batch.push(instance);
      this.log(`started ${instance.name} (${instance.version}, ${this.slot}) on ${this.urlOf(instance)}`);
    }
    await this.checkHealth(batch);
  }

  /** All instances are checked at once; the first failure stops the others' checks. */
  private async checkHealth(batch: Instance[]): Promise<void> {
    const batchCancel = new AbortController();
    const cancel = () => batchCancel.abort();
    this.context.signal.addEventListener('abort', cancel, { once: true });
    const check = this.release.healthCheck;
    try {
      await Promise.all(
        batch.map((instance) => {
          const target = { url: `${this.urlOf(instance)}${check.path}`, label: instance.name, failure: () => instanceFailure(this.docker, instance.id) };
          return waitHealthy(target, check, batchCancel.signal, (line) => this.log(line)).catch((error: unknown) => {
            cancel();
            throw error;
          });
        }),
      );
    } finally {
      this.context.signal.removeEventListener('abort', cancel);
    }
  }

  /** Stops `count` old instances; they are removed at commit, or started again by a rollback. */
  async retire(count: number): Promise<void> {
    for (const instance of this.oldRunning.splice(Math.max(0, this.oldRunning.length - count))) {
      await stopContainer(this.docker, instance.id);
      this.retired.push(instance);
      this.log(`stopped old instance ${instance.name} (${instance.version}, ${instance.slot})`);
    }
  }

  /** Records the new deployment as live, then removes every old instance. */
  async commit(state: DeployState): Promise<void> {
    await writeState(this.docker, this.plan.app, this.plan.environment, state);
    this.committed = true;
    this.log(`live: ${this.plan.app} ${this.release.version} (${state.slot}) in ${this.plan.environment}`);
    await this.retire(this.oldRunning.length);
    for (const instance of this.retired) {
      await removeContainer(this.docker, instance.id);
      this.log(`removed old instance ${instance.name}`);
    }
  }

  /** Removes the new instances and starts the old ones this deployment stopped. */
  async rollBack(): Promise<void> {
    for (const instance of this.started) {
      await removeContainer(this.docker, instance.id);
      this.log(`removed new instance ${instance.name}`);
    }
    for (const instance of this.retired.splice(0)) {
      await restartContainer(this.docker, instance.id);
      this.oldRunning.push(instance);
      this.log(`restarted old instance ${instance.name} (${instance.version}) on ${this.urlOf(instance)}`);
    }
  }

  /** Where the live version answers: a new instance once committed, an old one before. */
  url(): string | null {
    const instance = this.committed ? this.started[0] : this.oldRunning[0];
    return instance ? this.urlOf(instance) : null;
  }

  private urlOf(instance: Instance): string {
    return instanceUrl(this.endpoint.host, instance.port);
  }
}

/**
 * Rolling update in batches: first stop the old instances above the availability floor
 * (replicas - max_unavailable), then start as many new ones as the ceiling (replicas + max_surge) allows,
 * health-check them, and stop the old ones now above `replicas`. Surge and unavailable are never both 0.
 */
async function rolling(rollout: Rollout): Promise<void> {
  const { replicas, rolling: limits } = rollout.plan;
  let ready = 0;
  for (let round = 1; ready < replicas; round++) {
    const running = rollout.oldRunning.length;
    await rollout.retire(Math.min(running, Math.max(0, running + ready - (replicas - limits.maxUnavailable))));
    const count = Math.min(replicas - ready, replicas + limits.maxSurge - (rollout.oldRunning.length + ready));
    rollout.log(`rolling batch ${round}: starting ${count} new instance(s); ${ready} new ready, ${rollout.oldRunning.length} old running`);
    await rollout.startNew(count);
    ready += count;
    await rollout.retire(Math.max(0, rollout.oldRunning.length + ready - replicas));
  }
}

/** The whole new colour next to the old one; the switch is the commit, which then retires the old colour. */
async function blueGreen(rollout: Rollout): Promise<void> {
  const old = rollout.oldRunning[0]?.slot;
  rollout.log(`blue-green: starting ${rollout.plan.replicas} ${rollout.slot} instance(s) next to ${old ? `the ${old} ones` : 'nothing'}`);
  await rollout.startNew(rollout.plan.replicas);
  rollout.log(`blue-green: all ${rollout.slot} instances healthy; switching from ${old ?? 'nothing'} to ${rollout.slot}`);
}

/**
 * With no load balancer, a weight is the share of instances on the new version: each step grows the new
 * instances to weight% of replicas (at least 1), shrinks the old ones to the rest (keeping at least one
 * before 100%), and holds for its pause. A last step below 100% is followed by 100%.
 */
async function canary(rollout: Rollout): Promise<void> {
  const { replicas, canary: steps } = rollout.plan;
  const final = steps.at(-1)?.weight === 100 ? steps : [...steps, { weight: 100, pauseMs: 0 }];
  for (const { weight, pauseMs } of final) {
    const target = weight >= 100 ? replicas : Math.min(replicas, Math.max(1, Math.ceil((replicas * weight) / 100)));
    if (target > rollout.started.length) await rollout.startNew(target - rollout.started.length);
    const keepOld = weight >= 100 ? 0 : Math.max(1, replicas - rollout.started.length);
    await rollout.retire(Math.max(0, rollout.oldRunning.length - keepOld));
    const total = rollout.started.length + rollout.oldRunning.length;
    const share = Math.round((rollout.started.length / total) * 100);
    rollout.log(
      `canary ${weight}%: ${rollout.started.length} new (${rollout.release.version}), ${rollout.oldRunning.length} old: ${share}% of instances on the new version`,
    );
    if (pauseMs > 0) {
      rollout.log(`canary ${weight}%: holding for ${pauseMs} ms`);
      await pause(pauseMs, rollout.signal);
    }
  }
}

export const strategies: Readonly<Record<Strategy, (rollout: Rollout) => Promise<void>>> = { rolling, blue_green: blueGreen, canary };
