import type Dockerode from 'dockerode';
import type { JobContainers } from '../docker/job-container.ts';
import type { RunnerPolicy } from '../docker/policy.ts';
import type { JobSpec, StepSpec } from '../protocol/v1.ts';

/** Moves artifacts between the runner and the store, only through URLs the API signs (or a local folder). */
export interface ArtifactTransfer {
  /** `source`: a file, or a stream (a tar straight from the workspace) hashed and sent as it is read. */
  upload(key: string, source: string | NodeJS.ReadableStream, options?: { signal?: AbortSignal }): Promise<{ key: string; size: number; sha256: string }>;
  download(key: string, fromRun: number | 'latest_success' | undefined, file: string): Promise<{ size: number; sha256: string }>;
}

export interface StepRuntime {
  job: JobSpec;
  step: StepSpec;
  /** The step's config with templates resolved. */
  config: Record<string, unknown>;
  /** The pipeline context that step.set writes to and conditionals read. */
  context: Record<string, unknown>;
  /** Environment for containers: pipeline env, secrets. */
  env: Record<string, string>;
  docker: Dockerode;
  workspaceVolume: string;
  /** Image used to reach the workspace when a step has none of its own. */
  helperImage: string;
  tempDir: string;
  /** flowyard.job / flowyard.runner for containers that end with the job, so a restarted runner can remove what a crash left. */
  jobLabels?: Record<string, string>;
  artifacts: ArtifactTransfer;
  /** Raw output bytes (containers); masked and chunked by the log writer. */
  output(bytes: Uint8Array): void;
  /** One line of the runner's own narration. */
  log(line: string): void;
  signal: AbortSignal;
  /** What the runner's admin allows (host network, docker hosts, bind mounts); the strict default when absent. */
  policy?: RunnerPolicy;
  /** The job's shell containers, shared by consecutive shell steps with the same settings; each step its own container when absent. */
  jobContainers?: JobContainers;
}

export interface StepResult {
  state: 'succeeded' | 'failed' | 'timed_out' | 'cancelled';
  exitCode?: number | null;
  outputs?: Record<string, unknown>;
  error?: string;
  /** step.conditional: continue at this step, skipping the ones between. */
  jumpTo?: string;
  /** step.set: values merged into the pipeline context. */
  contextUpdates?: Record<string, unknown>;
}

export type StepExecutor = (runtime: StepRuntime) => Promise<StepResult>;
