import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { renderString } from '../../server/engine/templates/index.ts';
import { exportFromWorkspace, importIntoWorkspace } from '../docker/archive.ts';
import { createWorkspaceVolume, removeWorkspaceVolume } from '../docker/workspace.ts';
import { JobContainers } from '../docker/job-container.ts';
import type { RunnerPolicy } from '../docker/policy.ts';
import { releaseRunResources } from '../docker/run-resources.ts';
import { executors } from '../executors/index.ts';
import { pluginStepExecutor } from '../plugins/executor.ts';
import type { PluginHost } from '../plugins/host.ts';
import type { ArtifactTransfer, StepResult } from '../executors/types.ts';
import { jobSecretValues, type JobResult, type JobSpec, type StepReport, type StepSpec } from '../protocol/v1.ts';
import { StepLogWriter, type LogSink } from './log-writer.ts';
import { maskDeep, SecretMasker } from '../../server/engine/masker.ts';
import { jobLabels } from './ownership.ts';
import { isTruthy, resolveTemplates, templateData } from './template-data.ts';

export const DEFAULT_HELPER_IMAGE = 'flowyard/busybox:latest';

export interface JobReporter extends LogSink {
  step(index: number, report: StepReport): void;
}

export interface JobEnvironment {
  docker: Dockerode;
  reporter: JobReporter;
  artifacts: ArtifactTransfer;
  /** Aborted on cancel (reason 'cancelled') or when the runner hands the job back. */
  signal: AbortSignal;
  helperImage?: string;
  /** What this runner's admin allows steps (host network, docker hosts, bind mounts); strict when absent. */
  policy?: RunnerPolicy;
  /** Labels the job's containers and volume with this runner's id, so a restarted runner can remove what a crash left. */
  runnerId?: string;
  /** Runs plugin steps (their archives, the plugin processes this runner started); plugin steps fail without it. */
  plugins?: PluginHost;
}

type Outcome = StepResult['state'];

class JobRun {
  private readonly outputs: Record<string, unknown> = {};
  private readonly context: Record<string, unknown>;
  private readonly startedAt = new Date();
  private readonly controller = new AbortController();
  private readonly timer: ReturnType<typeof setTimeout>;
  private timedOut = false;

  constructor(
    private readonly job: JobSpec,
    private readonly env: JobEnvironment,
    private readonly volume: string,
    private readonly tempDir: string,
    private readonly containers: JobContainers,
  ) {
    this.context = { ...job.trigger, ...job.priorContext };
    Object.assign(this.outputs, job.priorOutputs);
    env.signal.addEventListener('abort', () => this.controller.abort(env.signal.reason), { once: true });
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort('timed_out');
    }, job.timeoutMs);
  }

  stopTimer(): void {
    clearTimeout(this.timer);
  }

  /** With a step: what that step sees, which for a deploy includes its environment's secrets. */
  private data(step?: StepSpec) {
    return templateData({ ...this.job, secrets: this.secretsFor(step) }, this.context, this.outputs, this.startedAt);
  }

  /** Environment secrets go to the deploy step that targets the environment and to no other step. */
  private secretsFor(step?: StepSpec): Record<string, string> {
    return step?.type === 'step.deploy' ? { ...this.job.secrets, ...step.secrets } : this.job.secrets;
  }

  private containerEnv(step: StepSpec): Record<string, string> {
    const data = this.data();
    const env = resolveTemplates(this.job.env, data, false, 'env') as Record<string, string>;
    return { ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])), ...this.secretsFor(step) };
  }

  private conditionSkips(step: StepSpec): string | null {
    const data = this.data();
    if (step.if !== undefined && !isTruthy(renderString(step.if, data))) return `if "${step.if}" is false`;
    if (step.skip_if !== undefined && isTruthy(renderString(step.skip_if, data))) return `skip_if "${step.skip_if}" is true`;
    return null;
  }

  async runStep(step: StepSpec): Promise<StepResult & { skipped?: boolean }> {
    const reporter = this.env.reporter;
    const writer = new StepLogWriter(step.index, reporter, jobSecretValues(this.job));
    const startedAt = Date.now();
    let result: StepResult & { skipped?: boolean };
    try {
      const skipReason = this.conditionSkips(step);
      if (skipReason) {
        reporter.step(step.index, { state: 'skipped', finishedAt: Date.now(), error: `skipped: ${skipReason}` });
        return { state: 'succeeded', skipped: true };
      }
      reporter.step(step.index, { state: 'running', startedAt });
      const executor = step.plugin ? pluginStepExecutor(this.env.plugins, this.outputs) : executors[step.type];
      if (!executor) throw new Error(`step type ${step.type} is not supported by this runner`);
      const config = resolveTemplates(step.config, this.data(step), this.job.strictTemplates) as Record<string, unknown>;
      this.containers.moreStepsMayFollow = this.shellStepMayFollow(step);
      result = await executor({
        job: this.job,
        step,
        config,
        context: this.context,
        env: this.containerEnv(step),
        docker: this.env.docker,
        workspaceVolume: this.volume,
        helperImage: this.env.helperImage ?? DEFAULT_HELPER_IMAGE,
        tempDir: this.tempDir,
        jobLabels: jobLabels(this.job.jobId, this.env.runnerId),
        artifacts: this.env.artifacts,
        output: (bytes) => writer.write(bytes),
        log: (line) => writer.line(line),
        signal: this.controller.signal,
        policy: this.env.policy,
        jobContainers: this.containers,
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      writer.line(`\x1b[31m${message}\x1b[0m`);
      result = { state: this.controller.signal.aborted ? this.abortState() : 'failed', error: message };
    }
    if (result.state !== 'succeeded' && this.controller.signal.aborted) result = { ...result, state: this.abortState() };
    writer.close();
    reporter.step(step.index, {
      state: result.state,
      exitCode: result.exitCode ?? null,
      finishedAt: Date.now(),
      outputs: result.outputs ?? {},
      ...(result.error ? { error: result.error } : {}),
    });
    this.outputs[step.name] = result.outputs ?? {};
    Object.assign(this.context, result.contextUpdates ?? {});
    return result;
  }

  /** Jumps only go forward and compensation comes last, so what follows in that order is all that may still run. */
  private shellStepMayFollow(step: StepSpec): boolean {
    const order = [...this.job.steps, ...this.job.compensation];
    return order.slice(order.indexOf(step) + 1).some((later) => later.type === 'step.shell_exec' && !later.plugin);
  }

  private abortState(): Outcome {
    return this.timedOut ? 'timed_out' : 'cancelled';
  }

  /** The workspace travels between the jobs around a gate as an artifact of the run. */
  private async carryWorkspace(direction: 'restore' | 'save'): Promise<void> {
    const helperImage = this.env.helperImage ?? DEFAULT_HELPER_IMAGE;
    const tarFile = join(this.tempDir, `workspace-${direction}.tar`);
    if (direction === 'restore' && this.job.restoreWorkspace) {
      await this.env.artifacts.download(this.job.restoreWorkspace, undefined, tarFile);
      await importIntoWorkspace(this.env.docker, helperImage, this.volume, '/workspace', tarFile);
    } else if (direction === 'save' && this.job.saveWorkspace) {
      await exportFromWorkspace(this.env.docker, helperImage, this.volume, '/workspace/.', tarFile);
      await this.env.artifacts.upload(this.job.saveWorkspace, tarFile);
    }
  }

  async run(): Promise<JobResult> {
    await this.carryWorkspace('restore');
    const result = await this.runSteps();
    if (result.state === 'succeeded') await this.carryWorkspace('save');
    return result;
  }

  private async runSteps(): Promise<JobResult> {
    const steps = this.job.steps;
    let failure: { state: Outcome; error: string } | null = null;
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i]!;
      if (this.controller.signal.aborted)
        return { state: this.abortState(), error: this.timedOut ? `pipeline timed out after ${this.job.timeoutMs} ms` : 'cancelled' };
      const result = await this.runStep(step);
      if (result.state === 'cancelled' || result.state === 'timed_out') {
        if (this.controller.signal.aborted) return { state: this.abortState(), error: result.error ?? this.abortState() };
      }
      if (result.state !== 'succeeded' && !step.continueOnError) {
        failure = {
          state: 'failed',
          error: `step ${step.name} ${result.state === 'timed_out' ? 'timed out' : 'failed'}${result.error ? `: ${result.error}` : ''}`,
        };
        if (this.job.onError !== 'skip') break;
      }
      if (result.jumpTo) {
        const target = steps.findIndex((s) => s.name === result.jumpTo);
        for (const skipped of steps.slice(i + 1, target)) this.env.reporter.step(skipped.index, { state: 'skipped', error: `skipped by ${step.name}` });
        i = target - 1;
      }
    }
    if (failure && this.job.onError === 'compensate') {
      for (const step of this.job.compensation) await this.runStep(step);
    }
    return failure ?? { state: 'succeeded' };
  }
}

/**
 * Everything the runner reports passes here: step outputs, step.set values and errors (ours too, such as a
 * pull error naming an image templated from a secret) are masked as the log writer masks log lines.
 */
function maskingReporter(reporter: JobReporter, masker: SecretMasker): JobReporter {
  return {
    chunk: (stepIndex, seq, text) => reporter.chunk(stepIndex, seq, text),
    step: (index, report) => reporter.step(index, maskDeep(report, masker)),
  };
}

/** Runs one job's steps in order in a fresh workspace volume, reporting as it goes; never throws. */
export async function executeJob(job: JobSpec, env: JobEnvironment): Promise<JobResult> {
  const masker = new SecretMasker(jobSecretValues(job));
  return maskDeep(await executeUnmasked(job, { ...env, reporter: maskingReporter(env.reporter, masker) }), masker);
}

async function executeUnmasked(job: JobSpec, env: JobEnvironment): Promise<JobResult> {
  const tempDir = await mkdtemp(join(tmpdir(), 'flowyard-job-'));
  let volume: string | undefined;
  const containers = new JobContainers(env.docker);
  let run: JobRun | undefined;
  let result: JobResult | undefined;
  try {
    volume = await createWorkspaceVolume(env.docker, job.jobId, { 'flowyard.run': job.runId, ...jobLabels(job.jobId, env.runnerId) });
    run = new JobRun(job, env, volume, tempDir, containers);
    return (result = await run.run());
  } catch (error) {
    return { state: 'failed', error: `runner error: ${error instanceof Error ? error.message : String(error)}` };
  } finally {
    run?.stopTimer();
    // The containers first: they hold the volume, the run network and the image; the rest is independent.
    await containers.close();
    await Promise.all([
      volume ? removeWorkspaceVolume(env.docker, volume).catch(() => undefined) : undefined,
      releaseRunResources(env.docker, job, result, env.signal),
      rm(tempDir, { recursive: true, force: true }),
    ]);
  }
}
