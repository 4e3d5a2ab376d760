import { dirname } from 'node:path';
import type Dockerode from 'dockerode';
import type { RunnerPolicy } from '../docker/policy.ts';
import { workspaceVolumeName } from '../docker/workspace.ts';
import { executeJob } from '../job/execute.ts';
import { killJobContainers, removeLeftovers } from '../job/ownership.ts';
import { PluginHost } from '../plugins/host.ts';
import type { JobSpec } from '../protocol/v1.ts';
import { ApiCallError, backoffMs, RunnerApi, sleep } from './client.ts';
import { loadRunnerConfig, saveRunnerConfig, type RunnerConfig } from './config.ts';
import { httpArtifacts } from './http-artifacts.ts';
import { JobOutbox } from './outbox.ts';
import type { RunnerMetrics } from './metrics.ts';

export const RUNNER_VERSION = '0.1.0';
const HEARTBEAT_MS = 10_000;
const CLAIM_WAIT_SECONDS = 20;
const CANCEL_WAIT_SECONDS = 25;

/**
 * How long after the last successful renewal was sent a runner that cannot renew keeps a job. The server
 * lets the lease lapse `leaseMs` after it renewed it (later than the send), so stopping by `leaseMs - margin`
 * fences this runner off before the job can be handed to another one; the margin covers killing the containers.
 */
export function fenceAfterMs(leaseMs: number): number {
  return leaseMs - Math.min(Math.max(2000, leaseMs * 0.2), leaseMs / 2);
}

export interface RunnerOptions {
  url: string;
  registrationToken?: string;
  name: string;
  labels: string[];
  capacity: number;
  configPath: string;
  docker: Dockerode;
  log?: (line: string) => void;
  /** What the admin allows this runner's steps (--allow-* flags); strict when absent. */
  policy?: RunnerPolicy;
  /** Counts jobs, steps, log bytes and pending reports (--metrics-port). */
  metrics?: RunnerMetrics;
}

export interface RunningRunner {
  config: RunnerConfig;
  /** Stops claiming, hands running jobs back, delivers what is pending, then resolves. */
  stop(): Promise<void>;
  readonly stopped: Promise<void>;
}

/** Registers once (keeping the runner token in the config file) or reuses the stored identity. */
export async function ensureRegistered(options: RunnerOptions): Promise<RunnerConfig> {
  const stored = await loadRunnerConfig(options.configPath);
  if (stored && stored.url === options.url) return stored;
  if (!options.registrationToken) {
    throw new Error(`no runner identity in ${options.configPath}: pass --token with a registration token from ${options.url}`);
  }
  const api = new RunnerApi(options.url);
  const registered = await api.register({
    registrationToken: options.registrationToken,
    name: options.name,
    labels: options.labels,
    capacity: options.capacity,
    version: RUNNER_VERSION,
  });
  const config: RunnerConfig = {
    url: options.url,
    runnerId: registered.runnerId,
    token: registered.token,
    name: options.name,
    labels: registered.labels ?? options.labels,
    capacity: options.capacity,
  };
  await saveRunnerConfig(options.configPath, config);
  return config;
}

class Runner {
  private readonly api: RunnerApi;
  private readonly running = new Map<string, AbortController>();
  private readonly stopping = new AbortController();
  private readonly plugins: PluginHost;
  private slotFreed: (() => void) | undefined;
  readonly stopped: Promise<void>;

  constructor(
    readonly config: RunnerConfig,
    private readonly options: RunnerOptions,
  ) {
    this.api = new RunnerApi(config.url, config.token);
    options.metrics?.countRunningJobs(() => this.running.size);
    this.plugins = new PluginHost({
      dataDir: dirname(options.configPath),
      fetchArchive: (request) => this.api.pluginArchive(request),
      log: (line) => this.log(line),
    });
    this.stopped = Promise.all([this.claimLoop(), this.heartbeatLoop()])
      .then(() => this.drainJobs())
      .finally(() => this.plugins.stop());
  }

  private log(line: string) {
    this.options.log?.(`runner ${this.config.name}: ${line}`);
  }

  private jobsDone: Promise<void>[] = [];

  private async drainJobs() {
    await Promise.all(this.jobsDone);
  }

  stop(): Promise<void> {
    this.stopping.abort();
    for (const controller of this.running.values()) controller.abort('released');
    this.slotFreed?.();
    return this.stopped;
  }

  private async claimLoop() {
    let failures = 0;
    while (!this.stopping.signal.aborted) {
      if (this.running.size >= this.config.capacity) {
        await new Promise<void>((resolve) => (this.slotFreed = resolve));
        continue;
      }
      try {
        const claimed = await this.api.claim(CLAIM_WAIT_SECONDS, this.stopping.signal);
        failures = 0;
        if (claimed) this.start(claimed.job);
      } catch (error) {
        if (this.stopping.signal.aborted) return;
        if (error instanceof ApiCallError && error.status === 401) {
          this.log(`refused by the API (${error.message}); stopping`);
          this.stopping.abort();
          return;
        }
        this.log(`claim failed: ${(error as Error).message}; retrying`);
        await sleep(backoffMs(failures++), this.stopping.signal);
      }
    }
  }

  private async heartbeatLoop() {
    while (!this.stopping.signal.aborted) {
      try {
        const answer = await this.api.heartbeat([...this.running.keys()]);
        for (const jobId of answer.cancelJobs) this.running.get(jobId)?.abort('cancelled');
      } catch {
        /* the API may be away; jobs keep running and their reports wait in the outbox */
      }
      await sleep(HEARTBEAT_MS, this.stopping.signal);
    }
  }

  private start(job: JobSpec) {
    const controller = new AbortController();
    this.running.set(job.jobId, controller);
    this.log(`took job ${job.jobId} (${job.workflow} #${job.runNumber}, ${job.pipeline})`);
    const done = this.runJob(job, controller).finally(() => {
      this.running.delete(job.jobId);
      this.slotFreed?.();
    });
    this.jobsDone.push(done);
  }

  /**
   * Gives a job up at once: nothing more is reported (no step, no result) and its containers are killed
   * without a grace period, so no second attempt elsewhere can overlap with this one.
   */
  private fence(job: JobSpec, controller: AbortController, outbox: JobOutbox, why: string) {
    if (controller.signal.aborted && controller.signal.reason === 'lost') return;
    this.log(`giving up job ${job.jobId}: ${why}`);
    outbox.abandon();
    controller.abort('lost');
    void killJobContainers(this.options.docker, this.config.runnerId, job.jobId, workspaceVolumeName(job.jobId)).catch((error: Error) =>
      this.log(`could not kill the containers of job ${job.jobId}: ${error.message}`),
    );
  }

  /**
   * Renews the lease and long-polls for a cancel until the job ends. A lease the API refuses, or one that
   * could not be renewed for `fenceAfterMs`, fences the job off this runner; renewing every third of that
   * leaves two more tries before it comes to that.
   */
  private async watch(job: JobSpec, controller: AbortController, outbox: JobOutbox, finished: AbortSignal) {
    const fenceAfter = fenceAfterMs(job.leaseMs);
    let fenceTimer: ReturnType<typeof setTimeout> | undefined;
    const armFence = (renewalSentAt: number) => {
      clearTimeout(fenceTimer);
      fenceTimer = setTimeout(
        () => this.fence(job, controller, outbox, `the lease could not be renewed for ${Date.now() - renewalSentAt} ms`),
        renewalSentAt + fenceAfter - Date.now(),
      );
    };
    armFence(Date.now());
    finished.addEventListener('abort', () => clearTimeout(fenceTimer), { once: true });
    const renew = async () => {
      let failures = 0;
      while (!finished.aborted && controller.signal.reason !== 'lost') {
        const sentAt = Date.now();
        try {
          const lease = await this.api.renewLease(job.jobId, finished);
          failures = 0;
          if (!finished.aborted) armFence(sentAt);
          if (lease.cancelled) controller.abort('cancelled');
          await sleep(fenceAfter / 3, finished);
        } catch (error) {
          if (error instanceof ApiCallError && error.status === 409) {
            this.fence(job, controller, outbox, 'the API took it back');
            return;
          }
          await sleep(Math.min(backoffMs(failures++), fenceAfter / 6), finished);
        }
      }
    };
    const cancelPoll = async () => {
      // A fenced (or already stopped) job asks nothing more: the job is no longer this runner's to speak of.
      const stop = AbortSignal.any([finished, controller.signal]);
      while (!stop.aborted) {
        try {
          const answer = await this.api.awaitCancel(job.jobId, CANCEL_WAIT_SECONDS, stop);
          if (answer.cancelled) {
            controller.abort('cancelled');
            return;
          }
        } catch {
          await sleep(1000, stop);
        }
      }
    };
    await Promise.all([renew(), cancelPoll()]);
  }

  private async runJob(job: JobSpec, controller: AbortController) {
    const outbox = new JobOutbox(this.api, job.jobId, this.options.metrics);
    const finished = new AbortController();
    const watching = this.watch(job, controller, outbox, finished.signal);
    const result = await executeJob(job, {
      docker: this.options.docker,
      reporter: outbox,
      artifacts: httpArtifacts(this.api, job.jobId),
      signal: controller.signal,
      runnerId: this.config.runnerId,
      policy: this.options.policy,
      plugins: this.plugins,
    });
    if (controller.signal.reason === 'released') {
      outbox.close();
      await outbox.drained;
      await this.api.release(job.jobId).catch((error: Error) => this.log(`could not hand back ${job.jobId}: ${error.message}`));
    } else if (controller.signal.reason === 'lost') {
      this.log(`job ${job.jobId} stopped: this runner no longer holds its lease`);
    } else {
      outbox.done(result);
      await outbox.drained;
      this.log(`job ${job.jobId} ${result.state}`);
    }
    finished.abort();
    await watching;
  }
}

/** Registers (or reuses the stored identity), removes what an earlier run of this runner left, and starts. */
export async function startRunner(options: RunnerOptions): Promise<RunningRunner> {
  const config = await ensureRegistered(options);
  try {
    const removed = await removeLeftovers(options.docker, config.runnerId);
    if (removed.containers + removed.volumes > 0) {
      options.log?.(
        `runner ${config.name}: removed ${removed.containers} container(s) and ${removed.volumes} workspace volume(s) left by jobs this runner no longer holds`,
      );
    }
  } catch (error) {
    options.log?.(`runner ${config.name}: could not remove leftovers: ${(error as Error).message}`);
  }
  return new Runner(config, options);
}
