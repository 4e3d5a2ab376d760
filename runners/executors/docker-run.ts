import type { Duplex } from 'node:stream';
import { Writable } from 'node:stream';
import type Dockerode from 'dockerode';
import { parseDuration } from '../../server/engine/schema/common.ts';
import type { StepConfig } from '../../server/engine/schema/steps.ts';
import { MANAGED_LABEL, errorMessage } from '../docker/engine.ts';
import { checkContainer } from '../docker/policy.ts';
import { stringEnv, withConfig } from './config.ts';
import { policyOf, refusal, stepImage, stepNetwork } from './isolation.ts';
import { stepDeadline } from '../docker/images.ts';
import type { StepResult, StepRuntime } from './types.ts';
import { removeContainer, stopContainer } from '../docker/containers.ts';

/** How long to wait for buffered output after the container exited. */
const OUTPUT_DRAIN_MS = 5000;

type DockerRunConfig = StepConfig<'step.docker_run'>;

/** The shorter of the step-level timeout and `config.timeout`. */
function stepTimeoutMs(runtime: StepRuntime, config: DockerRunConfig): number | null {
  const limits = [runtime.step.timeoutMs, config.timeout === undefined ? null : parseDuration(config.timeout)];
  const set = limits.filter((limit): limit is number => typeof limit === 'number' && limit > 0);
  return set.length ? Math.min(...set) : null;
}

function containerOptions(runtime: StepRuntime, config: DockerRunConfig, imageId: string, networkMode: string): Dockerode.ContainerCreateOptions {
  const detached = !config.wait_for_exit;
  return {
    Image: imageId,
    ...(config.command ? { Cmd: config.command } : {}),
    Env: Object.entries({ ...runtime.env, ...stringEnv(config.env) }).map(([name, value]) => `${name}=${value}`),
    Labels: {
      [MANAGED_LABEL]: 'true',
      'flowyard.run': runtime.job.runId,
      'flowyard.step': runtime.step.name,
      ...(detached ? { 'flowyard.detached': 'true' } : runtime.jobLabels),
    },
    AttachStdout: !detached,
    AttachStderr: !detached,
    HostConfig: {
      NetworkMode: networkMode,
      Privileged: false,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      // docker-init as PID 1 passes the stop signal on to the command and reaps zombies.
      Init: true,
      // A waited-for container's output is streamed through attach; a detached one keeps its log for `docker logs`.
      ...(detached ? {} : { LogConfig: { Type: 'none', Config: {} } }),
    },
  };
}

/**
 * Runs `config.image`. With `wait_for_exit: false` the container is started and left running after the
 * step and the job (a service for later steps or for the operator); it is found by its labels:
 * flowyard.detached=true, flowyard.run=<run id>, flowyard.step=<step name>. Otherwise the output is
 * streamed, a non-zero exit fails the step, and the container is removed in every case.
 */
export const dockerRun = withConfig('step.docker_run', async (runtime, config) => {
  const detached = !config.wait_for_exit;
  let options: Dockerode.ContainerCreateOptions;
  try {
    const networkMode = await stepNetwork(runtime, config.network_mode);
    const image = await stepImage(runtime, config.image, config.pull_policy);
    options = containerOptions(runtime, config, image.id, networkMode);
    checkContainer(policyOf(runtime), options);
  } catch (error) {
    return refusal(error);
  }
  let container: Dockerode.Container;
  try {
    container = await runtime.docker.createContainer(options);
  } catch (error) {
    return { state: 'failed', error: `could not create container: ${errorMessage(error)}` };
  }
  const id = container.id;
  if (!detached) {
    const timeoutMs = stepTimeoutMs(runtime, config);
    const deadline = stepDeadline(runtime.signal, timeoutMs);
    const result = await runToExit(runtime, container, deadline.signal, timeoutMs)
      .catch((error: unknown): StepResult => ({ state: 'failed', error: `container ${id.slice(0, 12)}: ${errorMessage(error)}` }))
      .finally(() => deadline.dispose());
    const removalError = await removeContainer(container);
    const error = [result.error, removalError].filter(Boolean).join('; ');
    return { ...result, outputs: { container_id: id, exit_code: result.exitCode ?? null }, ...(error ? { error } : {}) };
  }
  try {
    await container.start();
  } catch (error) {
    await removeContainer(container);
    return { state: 'failed', error: `could not start container: ${errorMessage(error)}` };
  }
  runtime.log(`started container ${id.slice(0, 12)} detached; it keeps running after the job (label flowyard.run=${runtime.job.runId})`);
  return { state: 'succeeded', outputs: { container_id: id } };
});

/** `signal` aborts on cancel or at the timeout: the container is stopped and the step ends as cancelled or timed_out. */
async function runToExit(runtime: StepRuntime, container: Dockerode.Container, signal: AbortSignal, timeoutMs: number | null): Promise<StepResult> {
  const interrupted = (): StepResult =>
    runtime.signal.aborted
      ? { state: 'cancelled', exitCode: null, error: 'cancelled' }
      : { state: 'timed_out', exitCode: null, error: `container timed out after ${timeoutMs} ms` };
  if (signal.aborted) return interrupted();

  // Attach before start so that no early output is missed.
  const stream = (await container.attach({ stream: true, stdout: true, stderr: true })) as Duplex;
  const outputEnded = new Promise<void>((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });
  const sink = () => new Writable({ write: (chunk: Buffer, _encoding, done) => (runtime.output(chunk), done()) });
  runtime.docker.modem.demuxStream(stream, sink(), sink());

  let started = false;
  const onAbort = () => started && void stopContainer(container);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await container.start();
    started = true;
    if (signal.aborted) void stopContainer(container); // aborted while starting
    const { StatusCode: exitCode } = (await container.wait()) as { StatusCode: number };
    await settleWithin(outputEnded, OUTPUT_DRAIN_MS);
    if (signal.aborted) return interrupted();
    if (exitCode === 0) return { state: 'succeeded', exitCode };
    return { state: 'failed', exitCode, error: `container exited with code ${exitCode}` };
  } finally {
    signal.removeEventListener('abort', onAbort);
    stream.destroy();
  }
}

function settleWithin(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer));
}
