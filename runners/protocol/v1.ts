import { z } from 'zod';

/**
 * Runner protocol v1: the whole contract between the API and runner daemons, under /api/runner/v1.
 * Runners authenticate with `Authorization: Bearer <runner token>` on everything but register.
 * Bump the version (new module, new prefix) for any incompatible change.
 */
export const RUNNER_PROTOCOL_VERSION = 1;
export const RUNNER_PROTOCOL_PREFIX = '/api/runner/v1';

export const RegisterRequest = z.object({
  registrationToken: z.string().min(1),
  name: z.string().min(1).max(100),
  labels: z.array(z.string().min(1).max(50)).max(50).default([]),
  capacity: z.number().int().min(1).max(64).default(1),
  version: z.string().max(50).default('unknown'),
});
export const RegisterResponse = z.object({
  runnerId: z.string(),
  token: z.string(),
  /** The labels the runner got: those it asked for, or its registration token's when it asked for none. */
  labels: z.array(z.string()).optional(),
});

export const HeartbeatRequest = z.object({ runningJobs: z.array(z.string()).default([]) });
export const HeartbeatResponse = z.object({ cancelJobs: z.array(z.string()) });

export const ClaimRequest = z.object({ waitSeconds: z.number().int().min(0).max(30).default(20) });

export const StepSpec = z.object({
  index: z.number().int().min(0),
  name: z.string(),
  type: z.string(),
  /** Config with templates unresolved; the runner resolves them just before the step runs. */
  config: z.record(z.string(), z.unknown()),
  if: z.string().optional(),
  skip_if: z.string().optional(),
  timeoutMs: z.number().int().positive().nullable(),
  continueOnError: z.boolean(),
  /**
   * step.deploy only: the secrets of the environment it targets. The runner gives them to this step alone
   * (its env and its templates' .Secrets), never to the job's other steps; older runners ignore the field.
   */
  secrets: z.record(z.string(), z.string()).optional(),
});
export type StepSpec = z.infer<typeof StepSpec>;

export const JobSpec = z.object({
  jobId: z.string(),
  runId: z.string(),
  runNumber: z.number().int(),
  workflow: z.string(),
  pipeline: z.string(),
  version: z.string().nullable(),
  steps: z.array(StepSpec),
  /** Run after a failing step when onError is compensate; their indexes follow the steps'. */
  compensation: z.array(StepSpec),
  onError: z.enum(['stop', 'skip', 'compensate']),
  env: z.record(z.string(), z.string()),
  inputs: z.record(z.string(), z.unknown()),
  trigger: z.record(z.string(), z.unknown()),
  /** Secret values the steps may read; the runner masks every one of them in log output. */
  secrets: z.record(z.string(), z.string()),
  strictTemplates: z.boolean(),
  timeoutMs: z.number().int().positive(),
  leaseMs: z.number().int().positive(),
  /** Outputs of steps that ran in earlier jobs of this run (before a gate), by step name. */
  priorOutputs: z.record(z.string(), z.record(z.string(), z.unknown())),
  /** Context values set by step.set in earlier jobs. */
  priorContext: z.record(z.string(), z.unknown()),
  /** Artifact key of the workspace left by the previous job, to unpack before the first step. */
  restoreWorkspace: z.string().nullable(),
  /** Artifact key to save the workspace under when this job succeeds (a gate follows). */
  saveWorkspace: z.string().nullable(),
  /** Registry credentials and similar, by module name, resolved by the API. */
  modules: z.record(z.string(), z.object({ type: z.string(), config: z.record(z.string(), z.unknown()) })),
});
export type JobSpec = z.infer<typeof JobSpec>;

/** Every secret value a job carries (its own and its deploy steps'), for masking output. */
export function jobSecretValues(job: Pick<JobSpec, 'secrets' | 'steps' | 'compensation'>): string[] {
  return [...Object.values(job.secrets), ...[...job.steps, ...job.compensation].flatMap((step) => Object.values(step.secrets ?? {}))];
}
export const ClaimResponse = z.object({ job: JobSpec });

export const LeaseResponse = z.object({ leaseExpiresAt: z.number().int(), cancelled: z.boolean() });

export const StepStates = ['pending', 'running', 'succeeded', 'failed', 'skipped', 'cancelled', 'timed_out'] as const;
export const StepReport = z.object({
  state: z.enum(StepStates),
  exitCode: z.number().int().nullable().optional(),
  startedAt: z.number().int().optional(),
  finishedAt: z.number().int().optional(),
  outputs: z.record(z.string(), z.unknown()).optional(),
  error: z.string().max(10_000).optional(),
});
export type StepReport = z.infer<typeof StepReport>;

/** Log chunks are numbered per step from 0; the API stores each (step, seq) once, so retries are harmless. */
export const LogChunk = z.object({
  stepIndex: z.number().int().min(0),
  seq: z.number().int().min(0),
  /** Base64 of the raw bytes, ANSI colours intact, secrets already masked. */
  data: z.string(),
});
export const AppendLogsRequest = z.object({ chunks: z.array(LogChunk).max(1000) });
export const AppendLogsResponse = z.object({ stored: z.number().int(), duplicates: z.number().int() });

export const ArtifactUploadRequest = z.object({ key: z.string().min(1).max(200), size: z.number().int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) });
export const ArtifactCommitRequest = ArtifactUploadRequest;
export const ArtifactDownloadRequest = z.object({
  key: z.string().min(1).max(200),
  fromRun: z.union([z.number().int().positive(), z.literal('latest_success')]).optional(),
});
export const SignedUrl = z.object({ url: z.string(), method: z.enum(['GET', 'PUT']), headers: z.record(z.string(), z.string()), expiresAt: z.number().int() });
export const ArtifactDownloadResponse = SignedUrl.extend({ size: z.number().int(), sha256: z.string() });

export const JobResult = z.object({
  state: z.enum(['succeeded', 'failed', 'cancelled', 'timed_out']),
  error: z.string().max(10_000).optional(),
  outputs: z.record(z.string(), z.unknown()).optional(),
});
export type JobResult = z.infer<typeof JobResult>;
