import { z } from 'zod';
import { LOG_FRAMES_CONTENT_TYPE } from './log-frames.ts';

/**
 * Runner protocol v1: the whole contract between the API and runner daemons, under /api/runner/v1.
 * `RUNNER_ROUTES` at the end is the one table both sides derive from: the daemon's client builds its typed calls
 * from it, the API declares its routes from it, and a test holds the served routes equal to it.
 * Bump the version (new module, new prefix) for any incompatible change; additive optional fields are not one.
 *
 * A runner's life, in calls:
 *
 *   register            once, with a registration token and the protocol it speaks (a runner of another protocol
 *                       is refused with code `protocol_version`); the answer is the runner token, kept on disk.
 *                       Every later call carries `Authorization: Bearer <runner token>`; a 401 stops the daemon.
 *   heartbeat           every 10 s: "I am alive and run these jobs"; the answer names jobs to cancel.
 *   claim               long-poll (up to 30 s) for a job matching the runner's labels; 204 when none came. A job
 *                       comes leased to this runner for `leaseMs`.
 *   while the job runs, two loops side by side:
 *     renewLease        every third of the fence time. The runner fences itself: a job whose lease could not be
 *                       renewed for `leaseMs - margin` (see fenceAfterMs in runners/daemon/daemon.ts) is given up
 *                       at once (containers killed, nothing more reported), before the server can hand it to
 *                       another runner. A 409 (the server took the job back) gives it up too.
 *     awaitCancel       long-poll until the run is cancelled (or the wait ends, then again).
 *   reportStep          a step's state, exit code and outputs; a plain state update, so re-sending is harmless.
 *   appendLogFrames     numbered chunks per step as raw bytes (log-frames.ts); the server stores each (step, seq) once,
 *                       so a batch re-sent after a lost answer is idempotent (the answer counts the duplicates). The
 *                       runner keeps a few batches in flight; readers show a step's chunks in sequence order.
 *   appendLogs          the same as base64 in JSON, for runners from before appendLogFrames (an additive call, so
 *                       still v1); a runner falls back to it when a server from before answers 404.
 *   artifactUploadUrl   a signed URL to PUT an artifact to, then commitArtifact once the bytes are there (the
 *     commitArtifact    server checks size and SHA-256); artifactDownloadUrl signs a GET for this run or an earlier one.
 *   startArtifactUpload an artifact larger than one part streams as a multipart upload: start, a signed URL per part
 *     artifactPartUrl   (parts in parallel), then complete (which commits, checking size and SHA-256) or abort. The
 *     complete/abort…   upload id names the job and key it was started for and serves no other.
 *   done                the job's result; ends the job.
 *   pluginArchive       the archive of a plugin version a claimed job's plugin step pins (remote steps started by
 *                       the runner); the runner checks its digest and caches it by digest.
 *   release             instead of done when the runner shuts down: the job is queued again for another runner.
 *
 * Every call about a job is refused with 409 once this runner no longer holds the job's lease.
 */
export const RUNNER_PROTOCOL_VERSION = 1;
export const RUNNER_PROTOCOL_PREFIX = '/api/runner/v1';

export const RegisterRequest = z.object({
  registrationToken: z.string().min(1),
  name: z.string().min(1).max(100),
  labels: z.array(z.string().min(1).max(50)).max(50).default([]),
  capacity: z.number().int().min(1).max(64).default(1),
  version: z.string().max(50).default('unknown'),
  /** The protocol the runner speaks; runners from before this field spoke v1. */
  protocol: z.number().int().min(1).default(RUNNER_PROTOCOL_VERSION),
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

/** How the runner runs a plugin step (the `runtime` of the step type in the plugin's plugin.yaml). */
export const PluginRuntime = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('container'), image: z.string().min(1) }),
  z.object({
    kind: z.literal('remote'),
    command: z.array(z.string()).optional(),
    address: z.string().optional(),
    transport: z.enum(['unix', 'tcp']).default('unix'),
    config_message: z.string().optional(),
  }),
]);
export type PluginRuntime = z.infer<typeof PluginRuntime>;

/** The pinned plugin version a plugin step runs with: what the published version was built and previewed with. */
export const PluginStepRef = z.object({
  name: z.string(),
  version: z.string(),
  /** `sha256:<hex>` of the plugin archive; the runner checks what it fetches against it. */
  digest: z.string(),
  runtime: PluginRuntime,
});
export type PluginStepRef = z.infer<typeof PluginStepRef>;

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
  /** A plugin step: the plugin version to run it with. Older runners fail such a step as an unknown type. */
  plugin: PluginStepRef.optional(),
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

export const JobParams = z.object({ jobId: z.string().min(1).max(64) });
export const StepParams = JobParams.extend({ index: z.coerce.number().int().min(0) });

export const LeaseResponse = z.object({ leaseExpiresAt: z.number().int(), cancelled: z.boolean() });
export const CancelWaitQuery = z.object({ wait: z.coerce.number().int().min(0).max(30).default(25) });
export const CancelWaitResponse = z.object({ cancelled: z.boolean() });

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

/** Every part of a multipart upload but the last has this many bytes; an artifact that fits in one goes through artifactUploadUrl. */
export const ARTIFACT_PART_BYTES = 8 * 1024 * 1024;
const ArtifactKey = z.string().min(1).max(200);
const UploadId = z.string().min(1).max(2000);
const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
export const ArtifactUploadStartRequest = z.object({ key: ArtifactKey });
export const ArtifactUploadStartResponse = z.object({
  uploadId: UploadId,
  partSize: z.number().int().positive(),
  /** Each part's URL needs the part's SHA-256 (the store checks every part). */
  partChecksum: z.boolean(),
  /** How many parts to keep in flight. */
  parallelParts: z.number().int().min(1).max(16),
  expiresAt: z.number().int(),
});
export const ArtifactPartRequest = z.object({
  key: ArtifactKey,
  uploadId: UploadId,
  partNumber: z.number().int().min(1).max(10_000),
  size: z.number().int().min(1),
  sha256: Sha256Hex.optional(),
});
/** 5 GiB in 8 MiB parts is 640 parts: 1,000 bounds the body well under the API's 1 MiB. */
export const ArtifactUploadCompleteRequest = z.object({
  key: ArtifactKey,
  uploadId: UploadId,
  size: z.number().int().min(0),
  sha256: Sha256Hex,
  parts: z
    .array(z.object({ partNumber: z.number().int().min(1).max(10_000), etag: z.string().min(1).max(200), sha256: Sha256Hex.optional() }))
    .min(1)
    .max(1000),
});
export const ArtifactUploadAbortRequest = z.object({ key: ArtifactKey, uploadId: UploadId });

export const PluginArchiveRequest = z.object({ name: z.string().min(1).max(140), version: z.string().min(1).max(64) });
/** Plugin archives are small (a manifest, an example, a bundled service): base64 in JSON, at most 8 MiB. */
export const PluginArchiveResponse = z.object({ digest: z.string(), archiveBase64: z.string() });

export const JobResult = z.object({
  state: z.enum(['succeeded', 'failed', 'cancelled', 'timed_out']),
  error: z.string().max(10_000).optional(),
  outputs: z.record(z.string(), z.unknown()).optional(),
});
export type JobResult = z.infer<typeof JobResult>;

/** One call of the protocol: where it is served and what travels each way. */
export interface ProtocolRoute {
  method: 'GET' | 'POST';
  /** Below RUNNER_PROTOCOL_PREFIX; `{name}` segments are path parameters. */
  path: string;
  params?: z.ZodObject;
  query?: z.ZodObject;
  /** JSON body; absent: the call sends none. */
  request?: z.ZodType;
  /** Instead of `request`: the body is raw bytes of this content type. */
  binaryRequest?: string;
  /** JSON answer; absent: 204 No Content. */
  response?: z.ZodType;
  /** The call may also answer 204 with no body (claim: no job came within the wait). */
  mayBeEmpty?: boolean;
}

export const RUNNER_ROUTES = {
  register: { method: 'POST', path: '/register', request: RegisterRequest, response: RegisterResponse },
  heartbeat: { method: 'POST', path: '/heartbeat', request: HeartbeatRequest, response: HeartbeatResponse },
  claim: { method: 'POST', path: '/claim', request: ClaimRequest, response: ClaimResponse, mayBeEmpty: true },
  renewLease: { method: 'POST', path: '/jobs/{jobId}/lease', params: JobParams, response: LeaseResponse },
  awaitCancel: { method: 'GET', path: '/jobs/{jobId}/cancel', params: JobParams, query: CancelWaitQuery, response: CancelWaitResponse },
  reportStep: { method: 'POST', path: '/jobs/{jobId}/steps/{index}', params: StepParams, request: StepReport },
  appendLogs: { method: 'POST', path: '/jobs/{jobId}/logs', params: JobParams, request: AppendLogsRequest, response: AppendLogsResponse },
  appendLogFrames: {
    method: 'POST',
    path: '/jobs/{jobId}/log-frames',
    params: JobParams,
    binaryRequest: LOG_FRAMES_CONTENT_TYPE,
    response: AppendLogsResponse,
  },
  artifactUploadUrl: { method: 'POST', path: '/jobs/{jobId}/artifacts/upload-url', params: JobParams, request: ArtifactUploadRequest, response: SignedUrl },
  commitArtifact: { method: 'POST', path: '/jobs/{jobId}/artifacts/commit', params: JobParams, request: ArtifactCommitRequest },
  artifactDownloadUrl: {
    method: 'POST',
    path: '/jobs/{jobId}/artifacts/download-url',
    params: JobParams,
    request: ArtifactDownloadRequest,
    response: ArtifactDownloadResponse,
  },
  startArtifactUpload: {
    method: 'POST',
    path: '/jobs/{jobId}/artifacts/uploads',
    params: JobParams,
    request: ArtifactUploadStartRequest,
    response: ArtifactUploadStartResponse,
  },
  artifactPartUrl: { method: 'POST', path: '/jobs/{jobId}/artifacts/uploads/part-url', params: JobParams, request: ArtifactPartRequest, response: SignedUrl },
  completeArtifactUpload: { method: 'POST', path: '/jobs/{jobId}/artifacts/uploads/complete', params: JobParams, request: ArtifactUploadCompleteRequest },
  abortArtifactUpload: { method: 'POST', path: '/jobs/{jobId}/artifacts/uploads/abort', params: JobParams, request: ArtifactUploadAbortRequest },
  pluginArchive: { method: 'POST', path: '/plugins/archive', request: PluginArchiveRequest, response: PluginArchiveResponse },
  release: { method: 'POST', path: '/jobs/{jobId}/release', params: JobParams },
  done: { method: 'POST', path: '/jobs/{jobId}/done', params: JobParams, request: JobResult },
} as const satisfies Record<string, ProtocolRoute>;

/** Why a runner speaking `protocol` cannot be served, or undefined when it can. */
export function protocolMismatch(protocol: number): string | undefined {
  if (protocol === RUNNER_PROTOCOL_VERSION) return undefined;
  const upgrade = protocol > RUNNER_PROTOCOL_VERSION ? 'upgrade the server' : `upgrade the runner to one that speaks protocol v${RUNNER_PROTOCOL_VERSION}`;
  return `this runner speaks protocol v${protocol}; the server speaks v${RUNNER_PROTOCOL_VERSION} — ${upgrade}`;
}
