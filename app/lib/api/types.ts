/** The API's resources as the browser sees them (JSON: dates are ISO 8601 strings). Mirrors /api/openapi.json. */

export type Role = 'viewer' | 'editor' | 'admin';

export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
}

export interface WorkflowSummary {
  id: string;
  name: string;
  draftRevision: number;
  activeVersion: number | null;
  updatedAt: string;
  /** E-mail of who last changed the draft or published. */
  updatedBy: string | null;
}

export interface Workflow extends WorkflowSummary {
  draftYaml: string;
  createdAt: string;
}

export interface VersionSummary {
  number: number;
  sha256: string;
  message: string;
  restoredFrom: number | null;
  createdAt: string;
  createdBy: string | null;
}

export interface Version extends VersionSummary {
  yaml: string;
  buildResult: unknown;
}

export interface Diagnostic {
  severity: 'error' | 'warning' | 'info';
  code: string;
  message: string;
  /** JSON path of the offending node, e.g. `pipelines.build.steps.0.type`. */
  path: string;
  /** 1-based. */
  line: number;
  column: number;
  endLine?: number;
  endColumn?: number;
  /** A quick fix: the text that replaces the range (a "did you mean"). */
  fix?: { replace: string };
}

export interface PlanStep {
  name: string;
  type: string;
  description: string;
  job: number;
  timeoutMs: number | null;
  condition: { if?: string; skip_if?: string } | null;
  continueOnError: boolean;
  outputs: string[];
}

export interface PipelineInput {
  type: string;
  required: boolean;
  default?: string | number | boolean;
  options?: string[];
  description?: string;
}

export interface PipelinePlan {
  name: string;
  triggers: Array<{ type: 'manual' | 'http' | 'schedule'; path?: string; method?: string; cron?: string; timezone?: string }>;
  runsOn: string[];
  timeoutMs: number;
  onError: 'stop' | 'skip' | 'compensate';
  jobs: number;
  steps: PlanStep[];
  compensation: PlanStep[];
  edges: Array<{ from: string; to: string; kind: 'sequence' | 'data' | 'needs' | 'route' }>;
  inputs: Record<string, PipelineInput>;
}

export interface Plan {
  workflow: string;
  version: string | null;
  pipelines: PipelinePlan[];
}

export interface ChangeSummary {
  pipelines: { added: string[]; removed: string[]; changed: string[] };
  steps: Array<{ pipeline: string; added: string[]; removed: string[]; changed: string[] }>;
  modules: { added: string[]; removed: string[]; changed: string[] };
  triggers: { added: string[]; removed: string[] };
  lines: { added: number; removed: number };
  /** Unified diff of the YAML text. */
  patch: string;
}

export interface AvailableTypes {
  moduleTypes: string[];
  stepTypes: string[];
  triggerTypes: string[];
}

export interface BuildOk {
  status: 'build_ok';
  moduleTypes: string[];
  stepTypes: string[];
  triggerTypes: string[];
  plan: Plan;
  diagnostics: Diagnostic[];
  available: AvailableTypes;
  /** Against the published version (workflow try-activate only); null when nothing is published. */
  changes?: ChangeSummary | null;
}

export interface BuildFailed {
  status: 'build_failed';
  error: string;
  diagnostics: Diagnostic[];
  available: AvailableTypes;
}

export type BuildResult = BuildOk | BuildFailed;

export interface Published {
  status: 'published';
  version: number;
  sha256: string;
  diagnostics: Diagnostic[];
}

export interface RolledBack {
  status: 'rolled_back';
  error: string;
  reason: string;
  activeVersion: number | null;
}

export type PublishResult = Published | RolledBack | BuildFailed;

/** `succeeded_with_warnings`: it got through, but `continue_on_error` steps failed on the way. */
export type RunState = 'queued' | 'running' | 'waiting' | 'succeeded' | 'succeeded_with_warnings' | 'failed' | 'cancelled' | 'timed_out';
export type StepState = 'pending' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'skipped' | 'cancelled' | 'timed_out';

export interface UserRef {
  id: string;
  name: string;
  email: string;
}

/** Who or what started a run. */
export interface RunTrigger {
  type: RunSummary['triggerType'];
  /** The user who started it (manual runs and re-runs). */
  user: UserRef | null;
  /** The webhook delivery's `X-Flowyard-Delivery` id. */
  deliveryId: string | null;
  /** The schedule slot it ran for (ISO time). */
  scheduledFor: string | null;
  /** The run this one re-ran, and the job it started at (0: the whole run). */
  rerunOf: { run_id: string; number: number; from_job: number } | null;
}

export interface RunSummary {
  id: string;
  workflowId: string;
  /** Numbered per workflow: #1, #2, ... */
  number: number;
  version: number;
  pipeline: string;
  state: RunState;
  triggerType: 'manual' | 'http' | 'schedule' | 'rerun';
  triggeredBy: string | null;
  trigger: RunTrigger;
  inputs: Record<string, unknown>;
  triggerPayload: Record<string, unknown>;
  outputs: Record<string, unknown> | null;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  cancelRequestedAt: string | null;
  /** The user who cancelled it. */
  cancelledBy: string | null;
}

export interface RunStep {
  id: string;
  runId: string;
  jobIndex: number;
  index: number;
  name: string;
  type: string;
  state: StepState;
  exitCode: number | null;
  outputs: Record<string, unknown> | null;
  error: string | null;
  logBytes: number;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface RunJob {
  id: string;
  index: number;
  state: RunState;
  runnerId: string | null;
  attempt: number;
  error: string | null;
}

export interface GateDecision {
  id: string;
  runId: string;
  stepIndex: number;
  decision: 'approved' | 'rejected';
  /** manual (a person), auto (its conditions held) or timeout (its on_timeout). */
  via: 'manual' | 'auto' | 'timeout';
  userId: string | null;
  comment: string;
  createdAt: string;
}

export interface Run extends RunSummary {
  workflowName: string;
  steps: RunStep[];
  jobs: RunJob[];
  gateDecisions: GateDecision[];
  cancelledByUser: UserRef | null;
  /** The name of the runner that ran each job, by job id (null before one took it). */
  runnerNames: Record<string, string | null>;
  /** Why a queued run has not started (no online runner has its labels, or all are busy); null otherwise. */
  waitingReason: string | null;
}

export interface Artifact {
  key: string;
  size: number;
  sha256: string;
  createdAt: string;
}

/** A read-only link to a run (never its token, which is shown only when created). */
export interface ShareLink {
  id: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

export interface CreatedShareLink {
  id: string;
  /** Shown only in this answer. */
  token: string;
  /** The page that shows the run: `<public URL>/share/<token>`. */
  url: string;
  expiresAt: string | null;
}

export type SharedStep = Pick<RunStep, 'name' | 'type' | 'state' | 'exitCode' | 'startedAt' | 'finishedAt' | 'logBytes' | 'error'>;

/** What a share link shows (`GET /api/share/:token`); a `Run` has all of it too. */
export interface SharedRun {
  workflowName: string;
  number: number;
  pipeline: string;
  state: RunState;
  error: string | null;
  triggerType: RunSummary['triggerType'];
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  steps: SharedStep[];
}

export interface Runner {
  id: string;
  name: string;
  labels: string[];
  capacity: number;
  version: string;
  createdAt: string;
  lastSeenAt: string | null;
  online: boolean;
  currentJobs: Array<{ jobId: string; runId: string }>;
}

export interface RegistrationToken {
  id: string;
  /** Shown only in this answer. */
  token: string;
  expiresAt: string | null;
  /** The exact command that starts a runner with this token. */
  command: string;
}

export interface ApiToken {
  id: string;
  name: string;
  /** First characters of the token, to recognise it. */
  displayPrefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
}

export interface CreatedApiToken {
  id: string;
  name: string;
  /** The secret; shown only in this answer. */
  token: string;
}

export type EnvironmentProvider = 'docker' | 'registry' | 's3' | 'aws_ecs' | 'gcp_cloud_run' | 'azure_container_apps' | 'digitalocean';

/** Where deployments go. Secrets are write-only: only their names come back. */
export interface Environment {
  id: string;
  name: string;
  provider: EnvironmentProvider;
  region: string | null;
  config: Record<string, unknown>;
  secretNames: string[];
  /** Only the allowed workflows deploy here, each deploy approved by the approvers (when any). */
  protected: boolean;
  allowedWorkflows: string[];
  /** E-mails or role:<role>. */
  approvers: string[];
  createdAt: string;
  updatedAt: string;
}

export interface EnvironmentInput {
  name: string;
  provider: EnvironmentProvider;
  region?: string | null;
  config: Record<string, unknown>;
  /** NAME → value to set, or null to delete; names left out are kept. */
  secrets?: Record<string, string | null>;
  protected?: boolean;
  allowedWorkflows?: string[];
  approvers?: string[];
}

/** What `POST /api/environments/:id/test` found when it really reached the target. */
export interface ConnectionTest {
  ok: boolean;
  message: string;
}

/** One finished step.deploy in an environment's history. */
export interface Deployment {
  id: string;
  environment: string;
  workflowId: string;
  runId: string;
  step: string;
  image: string;
  version: string | null;
  strategy: string;
  /** deployed, rolled_back, failed, or the step's final state (cancelled, timed_out). */
  result: string;
  triggeredBy: string | null;
  triggeredByEmail: string | null;
  workflowName: string | null;
  runNumber: number | null;
  /** Where the deployed version answers, when the deploy reported it. */
  url: string | null;
  createdAt: string;
}

/** `Version.buildResult`: what a version built to when it was published. */
export interface VersionBuild {
  moduleTypes: string[];
  stepTypes: string[];
  triggerTypes: string[];
  plan: Plan;
  diagnostics: Diagnostic[];
}

/** Merged into `User`: set when someone else chose the password (first admin, reset); it must be changed first. */
export interface User {
  mustChangePassword: boolean;
}

/** A user as admins see them on the Users page. */
export interface UserDetails extends User {
  /** ISO time the user was disabled, or null: a disabled user cannot sign in and their sessions and tokens are refused. */
  disabledAt: string | null;
  createdAt: string;
}
