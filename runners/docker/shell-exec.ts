import { type Duplex, Writable } from 'node:stream';
import type Dockerode from 'dockerode';
import { MANAGED_LABEL, ensureImage, errorMessage, type PullPolicy } from './engine.ts';
import { WORKSPACE_PATH } from './workspace.ts';
import { removeContainer, stopContainer } from './containers.ts';
import { DEFAULT_RUNNER_POLICY, checkContainer, type RunnerPolicy } from './policy.ts';

export interface ShellExecSpec {
  image: string;
  commands: string[];
  /** Defaults to /workspace. */
  workDir?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  memoryBytes?: number;
  /** CPU limit in units of 1e-9 CPUs (1 core = 1e9). */
  nanoCpus?: number;
  /** none (the default), host, or the name of a network. */
  networkMode?: string;
  /** Checked before the container is created; the strict default when absent. */
  policy?: RunnerPolicy;
  /** Defaults to if_not_present. */
  pullPolicy?: PullPolicy;
  /** Named volume mounted at /workspace; shared by the steps of one job. */
  workspaceVolume: string;
  labels?: Record<string, string>;
}

export interface StepOutcome {
  /** The script's exit code; null when it did not finish on its own (timed out, cancelled) or never ran. */
  exitCode: number | null;
  status: 'succeeded' | 'failed' | 'timed_out' | 'cancelled';
  error?: string;
  durationMs: number;
}

export type OutputStream = 'stdout' | 'stderr';

export interface StepIO {
  /** Called with each chunk as the container writes it, bytes untouched (ANSI included). Must not block. */
  onOutput(chunk: Uint8Array, stream: OutputStream): void;
  signal?: AbortSignal;
}

/** Enough for ordinary shell work as root in the workspace (chown, chmod, writing others' files, dropping to a user). */
const STEP_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'SETUID', 'SETGID'];
const PIDS_LIMIT = 4096;
/** How long to wait for buffered output after the container exited before giving up on it. */
const OUTPUT_DRAIN_MS = 5000;

type Interruption = 'timed_out' | 'cancelled' | 'output_failed';
const CANCELLED = { exitCode: null, status: 'cancelled' } as const;

/**
 * Runs `spec.commands` as one `set -e` script in a fresh container, streaming its output to `io.onOutput`.
 * Never throws for step-level problems (missing image, engine errors): they come back as a failed outcome.
 * The container is removed in every case.
 */
export async function runShellStep(docker: Dockerode, spec: ShellExecSpec, io: StepIO): Promise<StepOutcome> {
  const startedAt = performance.now();
  const finish = (outcome: Omit<StepOutcome, 'durationMs'>): StepOutcome => ({
    ...outcome,
    durationMs: Math.round(performance.now() - startedAt),
  });

  if (io.signal?.aborted) return finish(CANCELLED);
  const options = containerOptions(spec);
  try {
    checkContainer(spec.policy ?? DEFAULT_RUNNER_POLICY, options);
  } catch (error) {
    return finish({ exitCode: null, status: 'failed', error: errorMessage(error) });
  }
  try {
    await ensureImage(docker, spec.image, spec.pullPolicy ?? 'if_not_present');
  } catch (error) {
    return finish({ exitCode: null, status: 'failed', error: errorMessage(error) });
  }
  if (io.signal?.aborted) return finish(CANCELLED);

  let container: Dockerode.Container;
  try {
    container = await docker.createContainer(options);
  } catch (error) {
    return finish({ exitCode: null, status: 'failed', error: `could not create container: ${errorMessage(error)}` });
  }

  let outcome: Omit<StepOutcome, 'durationMs'>;
  try {
    outcome = await runContainer(docker, container, spec, io);
  } catch (error) {
    outcome = { exitCode: null, status: 'failed', error: `container ${container.id.slice(0, 12)}: ${errorMessage(error)}` };
  }
  const removalError = await removeContainer(container);
  if (!removalError) return finish(outcome);
  return finish({ ...outcome, error: outcome.error ? `${outcome.error}; ${removalError}` : removalError });
}

/**
 * One script, stopping at the first failing command; each command is echoed first (green, like GitLab)
 * so the log shows what ran.
 */
export function buildStepScript(commands: readonly string[]): string {
  const lines = ['set -e'];
  for (const command of commands) {
    lines.push(`printf '\\033[32;1m$ %s\\033[0m\\n' ${shellQuote(command)}`, command);
  }
  return `${lines.join('\n')}\n`;
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

export function containerOptions(spec: ShellExecSpec): Dockerode.ContainerCreateOptions {
  const limits: Dockerode.HostConfig = {};
  if (spec.memoryBytes !== undefined) {
    limits.Memory = spec.memoryBytes;
    limits.MemorySwap = spec.memoryBytes; // equal to Memory: no swap on top of the limit
  }
  if (spec.nanoCpus !== undefined) limits.NanoCpus = spec.nanoCpus;

  return {
    Image: spec.image,
    Entrypoint: ['/bin/sh', '-c'],
    Cmd: [buildStepScript(spec.commands)],
    WorkingDir: spec.workDir ?? WORKSPACE_PATH,
    Env: Object.entries(spec.env ?? {}).map(([name, value]) => `${name}=${value}`),
    Labels: { ...spec.labels, [MANAGED_LABEL]: 'true' },
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: {
      ...limits,
      Mounts: [{ Type: 'volume', Source: spec.workspaceVolume, Target: WORKSPACE_PATH }],
      NetworkMode: spec.networkMode ?? 'none',
      Privileged: false,
      CapDrop: ['ALL'],
      CapAdd: STEP_CAPABILITIES,
      SecurityOpt: ['no-new-privileges'],
      // docker-init as PID 1 forwards SIGTERM to the shell (a bare `sh` as PID 1 ignores it) and reaps zombies.
      Init: true,
      PidsLimit: PIDS_LIMIT,
      // Output is streamed through attach; the engine need not keep a second copy on disk.
      LogConfig: { Type: 'none', Config: {} },
    },
  };
}

export async function runContainer(
  docker: Dockerode,
  container: Dockerode.Container,
  spec: ShellExecSpec,
  io: StepIO,
): Promise<Omit<StepOutcome, 'durationMs'>> {
  // Attach before start so that no early output is missed.
  const stream = (await container.attach({ stream: true, stdout: true, stderr: true })) as Duplex;
  const outputEnded = new Promise<void>((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });

  let started = false;
  let interruption: Interruption | undefined;
  let outputError: unknown;
  const interrupt = (reason: Interruption) => {
    if (interruption) return;
    interruption = reason;
    if (started) void stopContainer(container);
  };
  const onOutputFailure = (error: unknown) => {
    outputError ??= error;
    interrupt('output_failed');
  };
  docker.modem.demuxStream(stream, outputSink('stdout', io, onOutputFailure), outputSink('stderr', io, onOutputFailure));

  const onAbort = () => interrupt('cancelled');
  io.signal?.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  try {
    if (io.signal?.aborted) return CANCELLED;
    await container.start();
    started = true;
    if (interruption)
      void stopContainer(container); // interrupted while starting
    else if (spec.timeoutMs !== undefined) timer = setTimeout(() => interrupt('timed_out'), spec.timeoutMs);

    const { StatusCode: exitCode } = (await container.wait()) as { StatusCode: number };
    await settleWithin(outputEnded, OUTPUT_DRAIN_MS);

    switch (interruption) {
      case 'timed_out':
        return { exitCode: null, status: 'timed_out', error: `step timed out after ${spec.timeoutMs} ms` };
      case 'cancelled':
        return CANCELLED;
      case 'output_failed':
        return { exitCode: null, status: 'failed', error: `output handler failed: ${errorMessage(outputError)}` };
    }
    if (exitCode === 0) return { exitCode, status: 'succeeded' };
    return { exitCode, status: 'failed', ...(await oomError(container, spec)) };
  } finally {
    clearTimeout(timer);
    io.signal?.removeEventListener('abort', onAbort);
    stream.destroy();
  }
}

function outputSink(name: OutputStream, io: StepIO, onFailure: (error: unknown) => void): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      try {
        io.onOutput(chunk, name);
        done();
      } catch (error) {
        done(error as Error);
      }
    },
  }).on('error', onFailure);
}

async function oomError(container: Dockerode.Container, spec: ShellExecSpec): Promise<{ error?: string }> {
  try {
    const info = await container.inspect();
    if (info.State.OOMKilled) return { error: `killed: out of memory (limit ${spec.memoryBytes ?? 'none'} bytes)` };
  } catch {
    // The exit code alone still tells the step failed.
  }
  return {};
}

function settleWithin(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer));
}
