// Consecutive shell steps of a job with the same image and container settings run as execs in one container,
// so a job pays for one container create and start, not one per step. The container is created from the very
// options a step's own container would have (containerOptions: same image, limits, network, mounts, caps,
// no-new-privileges, init), so an exec'd step runs in the same sandbox. Between steps only the workspace and
// the container's file system carry over, as between the lines of one step: the step's processes are killed
// when it ends (step-exec.ts), the engine is asked whether any survived (`docker top`), and a container that
// cannot be shown clean is removed and the next step gets a fresh one. The container itself carries no step's
// environment: each exec gets its own.
import type Dockerode from 'dockerode';
import { removeContainer } from './containers.ts';
import { ensureImage, errorMessage } from './engine.ts';
import { DEFAULT_RUNNER_POLICY, checkContainer } from './policy.ts';
import { buildStepScript, containerOptions, runShellStep, type ShellExecSpec, type StepIO, type StepOutcome } from './shell-exec.ts';
import { runExecStep, signalStepProcesses } from './step-exec.ts';

/** Label on job containers, whose steps are execs (the flowyard.step label of a step container does not apply). */
export const JOB_CONTAINER_LABEL = 'flowyard.job-container';
/** docker-init and the idle keeper: what a clean job container runs between steps. */
const IDLE_PROCESSES = 2;
/** Blocks without children, so that the keeper is one process; the step wrapper spares it as PID 1's first child. */
const KEEPER = 'exec sleep 2147483647';

interface Held {
  key: string;
  container: Dockerode.Container;
  /** Settles true once the last step's leftovers are known to be gone; a step waits for it before it starts. */
  clean: Promise<boolean>;
}

/** The settings that make two steps able to share a container: all of its options but the command, environment and labels. */
function sharingKey(options: Dockerode.ContainerCreateOptions): string {
  const { Image, WorkingDir, User, HostConfig } = options;
  return JSON.stringify({ Image, WorkingDir, User, HostConfig });
}

function jobContainerOptions(spec: ShellExecSpec): Dockerode.ContainerCreateOptions {
  const options = containerOptions({ ...spec, env: {}, commands: [] });
  const { 'flowyard.step': _step, ...labels } = options.Labels ?? {};
  return { ...options, Cmd: [KEEPER], AttachStdout: false, AttachStderr: false, Labels: { ...labels, [JOB_CONTAINER_LABEL]: 'true' } };
}

/** Live processes of the container as the engine sees them (zombies awaiting their reaper do not count). */
async function liveProcesses(container: Dockerode.Container): Promise<number> {
  const top = (await container.top({ ps_args: '-o pid,stat' })) as { Processes?: string[][] };
  return (top.Processes ?? []).filter((row) => !row[1]?.startsWith('Z')).length;
}

/** One job's shell containers: at most one is kept, for the steps that follow with the same settings. */
export class JobContainers {
  private held: Held | undefined;
  private readonly removals: Promise<unknown>[] = [];
  /**
   * Set by the job before each step: false when no later step of the job is a shell step. A step that has no
   * container to share and none to share with then runs in a container of its own (runShellStep), which
   * exits with its script and is removed faster than a job container that is still running.
   */
  moreStepsMayFollow = true;

  constructor(private readonly docker: Dockerode) {}

  /** As runShellStep, but in the job's container for these settings, created on first use. Never throws. */
  async runStep(spec: ShellExecSpec, io: StepIO): Promise<StepOutcome> {
    const startedAt = performance.now();
    const finish = (outcome: Omit<StepOutcome, 'durationMs'>): StepOutcome => ({ ...outcome, durationMs: Math.round(performance.now() - startedAt) });
    if (io.signal?.aborted) return finish({ exitCode: null, status: 'cancelled' });
    const options = jobContainerOptions(spec);
    const key = sharingKey(options);
    try {
      checkContainer(spec.policy ?? DEFAULT_RUNNER_POLICY, containerOptions(spec));
      // The held container runs this very image (its ID is part of the key) unless the key differs.
      if (this.held?.key !== key || spec.pullPolicy === 'always') await ensureImage(this.docker, spec.image, spec.pullPolicy ?? 'if_not_present');
    } catch (error) {
      return finish({ exitCode: null, status: 'failed', error: errorMessage(error) });
    }
    if (!this.moreStepsMayFollow && this.held?.key !== key) {
      if (this.held) this.discard(this.held);
      return runShellStep(this.docker, spec, io);
    }
    let held: Held;
    try {
      held = await this.acquire(key, options);
    } catch (error) {
      return finish({ exitCode: null, status: 'failed', error: errorMessage(error) });
    }
    if (io.signal?.aborted) return finish({ exitCode: null, status: 'cancelled' });
    try {
      const { outcome, discard } = await runExecStep(
        this.docker,
        held.container,
        { script: buildStepScript(spec.commands), env: spec.env ?? {}, timeoutMs: spec.timeoutMs },
        io,
      );
      const oom = outcome.status === 'failed' ? await this.oomError(held.container, spec) : undefined;
      if (discard || oom) this.discard(held);
      else held.clean = this.cleanUp(held.container);
      return finish(oom ? { ...outcome, error: oom } : outcome);
    } catch (error) {
      this.discard(held);
      return finish({ exitCode: null, status: 'failed', error: `container ${held.container.id.slice(0, 12)}: ${errorMessage(error)}` });
    }
  }

  /** Removes the job's containers; called once at the end of the job. */
  async close(): Promise<void> {
    if (this.held) this.discard(this.held);
    await Promise.all(this.removals);
  }

  private async acquire(key: string, options: Dockerode.ContainerCreateOptions): Promise<Held> {
    const held = this.held;
    if (held && held.key === key && (await held.clean)) return held;
    if (held) this.discard(held);
    let container: Dockerode.Container;
    try {
      container = await this.docker.createContainer(options);
    } catch (error) {
      throw new Error(`could not create container: ${errorMessage(error)}`);
    }
    try {
      await container.start();
    } catch (error) {
      this.removals.push(removeContainer(container));
      throw new Error(`could not start container: ${errorMessage(error)}`);
    }
    this.held = { key, container, clean: Promise.resolve(true) };
    return this.held;
  }

  private discard(held: Held): void {
    if (this.held === held) this.held = undefined;
    this.removals.push(removeContainer(held.container));
  }

  /** True when nothing but the idle processes runs; what the step wrapper could not kill gets one more SIGKILL from a fresh exec. */
  private async cleanUp(container: Dockerode.Container): Promise<boolean> {
    try {
      if ((await liveProcesses(container)) === IDLE_PROCESSES) return true;
      await signalStepProcesses(container, 'KILL');
      return (await liveProcesses(container)) === IDLE_PROCESSES;
    } catch {
      return false; // stopped (the keeper was killed) or gone
    }
  }

  /** An out-of-memory kill marks the whole container (State.OOMKilled stays set), so it is not used again. */
  private async oomError(container: Dockerode.Container, spec: ShellExecSpec): Promise<string | undefined> {
    try {
      const info = await container.inspect();
      if (info.State.OOMKilled) return `killed: out of memory (limit ${spec.memoryBytes ?? 'none'} bytes)`;
    } catch {
      // The exit code alone still tells the step failed.
    }
    return undefined;
  }
}
