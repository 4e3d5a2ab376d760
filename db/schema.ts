import { sql } from 'drizzle-orm';
import { blob, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

const id = () =>
  text('id')
    .primaryKey()
    .$defaultFn(() => crypto.randomUUID());
const createdAt = () =>
  integer('created_at', { mode: 'timestamp_ms' })
    .notNull()
    .default(sql`(unixepoch('subsec') * 1000)`);

export const roles = ['viewer', 'editor', 'admin'] as const;
export type Role = (typeof roles)[number];

export const users = sqliteTable('users', {
  id: id(),
  email: text('email').notNull().unique(),
  name: text('name').notNull(),
  role: text('role', { enum: roles }).notNull(),
  passwordHash: text('password_hash'),
  /** The password was set by someone else (first admin, reset): it must be changed at the next sign-in. */
  mustChangePassword: integer('must_change_password', { mode: 'boolean' }).notNull().default(false),
  /** A disabled user cannot sign in; their sessions and tokens stop working at once. */
  disabledAt: integer('disabled_at', { mode: 'timestamp_ms' }),
  createdAt: createdAt(),
});

/** Failed sign-ins per key (`account:<email>` or `client:<address>`), for rate limiting with backoff. */
export const loginThrottles = sqliteTable('login_throttles', {
  key: text('key').primaryKey(),
  failures: integer('failures').notNull().default(0),
  lockedUntil: integer('locked_until', { mode: 'timestamp_ms' }),
  lastFailureAt: integer('last_failure_at', { mode: 'timestamp_ms' }).notNull(),
});

/** Webhook delivery IDs already accepted, so a replayed delivery runs nothing. */
export const webhookDeliveries = sqliteTable('webhook_deliveries', {
  deliveryId: text('delivery_id').primaryKey(),
  path: text('path').notNull(),
  runId: text('run_id'),
  receivedAt: integer('received_at', { mode: 'timestamp_ms' }).notNull(),
});

export const apiTokens = sqliteTable(
  'api_tokens',
  {
    id: id(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** SHA-256 of the token; the token itself is shown once and never stored. */
    tokenHash: text('token_hash').notNull().unique(),
    displayPrefix: text('display_prefix').notNull(),
    createdAt: createdAt(),
    lastUsedAt: integer('last_used_at', { mode: 'timestamp_ms' }),
    expiresAt: integer('expires_at', { mode: 'timestamp_ms' }),
    revokedAt: integer('revoked_at', { mode: 'timestamp_ms' }),
  },
  (t) => [index('api_tokens_user_idx').on(t.userId)],
);

export const sessions = sqliteTable('sessions', {
  id: id(),
  userId: text('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  tokenHash: text('token_hash').notNull().unique(),
  createdAt: createdAt(),
  expiresAt: integer('expires_at', { mode: 'timestamp_ms' }).notNull(),
});

export const workflows = sqliteTable('workflows', {
  id: id(),
  name: text('name').notNull().unique(),
  draftYaml: text('draft_yaml').notNull(),
  /** Bumped on every draft save; writers send the revision they edited to detect lost updates. */
  draftRevision: integer('draft_revision').notNull().default(1),
  activeVersion: integer('active_version'),
  createdBy: text('created_by').references(() => users.id, { onDelete: 'set null' }),
  updatedBy: text('updated_by').references(() => users.id, { onDelete: 'set null' }),
  /** Days a finished run's step logs are kept; null keeps them until the run is deleted. */
  logRetentionDays: integer('log_retention_days'),
  createdAt: createdAt(),
  updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
});

export const workflowVersions = sqliteTable(
  'workflow_versions',
  {
    id: id(),
    workflowId: text('workflow_id')
      .notNull()
      .references(() => workflows.id, { onDelete: 'cascade' }),
    number: integer('number').notNull(),
    yaml: text('yaml').notNull(),
    sha256: text('sha256').notNull(),
    message: text('message').notNull().default(''),
    /** JSON: types used, plan and warnings of the build that was published. */
    buildResult: text('build_result', { mode: 'json' }).notNull(),
    restoredFrom: integer('restored_from'),
    /** The exact plugin versions and digests the build used, so a run uses what was previewed. */
    pluginPins: text('plugin_pins', { mode: 'json' })
      .$type<Array<{ name: string; version: string; digest: string }>>()
      .notNull()
      .default(sql`'[]'`),
    createdBy: text('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('workflow_versions_number_idx').on(t.workflowId, t.number)],
);

/** Webhook paths of active versions; the unique path is what makes activation fail on a conflict. */
export const webhookRegistrations = sqliteTable(
  'webhook_registrations',
  {
    id: id(),
    workflowId: text('workflow_id')
      .notNull()
      .references(() => workflows.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    pipeline: text('pipeline').notNull(),
    path: text('path').notNull().unique(),
    method: text('method').notNull(),
    secretName: text('secret_name'),
    createdAt: createdAt(),
  },
  (t) => [index('webhook_registrations_workflow_idx').on(t.workflowId)],
);

export const scheduleRegistrations = sqliteTable(
  'schedule_registrations',
  {
    id: id(),
    workflowId: text('workflow_id')
      .notNull()
      .references(() => workflows.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    pipeline: text('pipeline').notNull(),
    cron: text('cron').notNull(),
    timezone: text('timezone').notNull(),
    nextRunAt: integer('next_run_at', { mode: 'timestamp_ms' }),
    createdAt: createdAt(),
  },
  (t) => [index('schedule_registrations_workflow_idx').on(t.workflowId)],
);

/** `succeeded_with_warnings`: it got through, but `continue_on_error` steps failed on the way. */
export const runStates = ['queued', 'running', 'waiting', 'succeeded', 'succeeded_with_warnings', 'failed', 'cancelled', 'timed_out'] as const;
export type RunState = (typeof runStates)[number];
export const stepStates = ['pending', 'running', 'waiting', 'succeeded', 'failed', 'skipped', 'cancelled', 'timed_out'] as const;
export type StepState = (typeof stepStates)[number];

export const runners = sqliteTable('runners', {
  id: id(),
  name: text('name').notNull(),
  labels: text('labels', { mode: 'json' }).$type<string[]>().notNull(),
  capacity: integer('capacity').notNull(),
  version: text('version').notNull(),
  /** SHA-256 of the runner token; the token is returned once at registration. */
  tokenHash: text('token_hash').notNull().unique(),
  createdAt: createdAt(),
  lastSeenAt: integer('last_seen_at', { mode: 'timestamp_ms' }),
  revokedAt: integer('revoked_at', { mode: 'timestamp_ms' }),
});

export const runnerRegistrationTokens = sqliteTable('runner_registration_tokens', {
  id: id(),
  tokenHash: text('token_hash').notNull().unique(),
  description: text('description').notNull().default(''),
  /** The labels a runner registered with this token may claim; empty means any. */
  labels: text('labels', { mode: 'json' })
    .$type<string[]>()
    .notNull()
    .default(sql`'[]'`),
  /** One-time tokens (the default) are spent by their first registration. */
  reusable: integer('reusable', { mode: 'boolean' }).notNull().default(false),
  usedAt: integer('used_at', { mode: 'timestamp_ms' }),
  createdBy: text('created_by').references(() => users.id, { onDelete: 'set null' }),
  createdAt: createdAt(),
  expiresAt: integer('expires_at', { mode: 'timestamp_ms' }),
  revokedAt: integer('revoked_at', { mode: 'timestamp_ms' }),
});

export const runs = sqliteTable(
  'runs',
  {
    id: id(),
    workflowId: text('workflow_id').notNull(),
    /** Numbered per workflow: #1, #2, ... */
    number: integer('number').notNull(),
    version: integer('version').notNull(),
    pipeline: text('pipeline').notNull(),
    state: text('state', { enum: runStates }).notNull().default('queued'),
    triggerType: text('trigger_type').notNull(),
    triggeredBy: text('triggered_by'),
    inputs: text('inputs', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    triggerPayload: text('trigger_payload', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    outputs: text('outputs', { mode: 'json' }).$type<Record<string, unknown>>(),
    error: text('error'),
    createdAt: createdAt(),
    startedAt: integer('started_at', { mode: 'timestamp_ms' }),
    finishedAt: integer('finished_at', { mode: 'timestamp_ms' }),
    cancelRequestedAt: integer('cancel_requested_at', { mode: 'timestamp_ms' }),
    /** The user who asked to cancel (null when a system or an unknown caller did). */
    cancelledBy: text('cancelled_by'),
  },
  (t) => [uniqueIndex('runs_number_idx').on(t.workflowId, t.number), index('runs_state_idx').on(t.state)],
);

export const jobs = sqliteTable(
  'jobs',
  {
    id: id(),
    runId: text('run_id').notNull(),
    /** Position of the job in its run; a gate splits a pipeline into several jobs. */
    index: integer('index').notNull(),
    state: text('state', { enum: runStates }).notNull().default('queued'),
    runsOn: text('runs_on', { mode: 'json' }).$type<string[]>().notNull(),
    runnerId: text('runner_id'),
    attempt: integer('attempt').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull().default(1),
    retryOnRunnerLost: integer('retry_on_runner_lost', { mode: 'boolean' }).notNull().default(false),
    leaseExpiresAt: integer('lease_expires_at', { mode: 'timestamp_ms' }),
    claimedAt: integer('claimed_at', { mode: 'timestamp_ms' }),
    finishedAt: integer('finished_at', { mode: 'timestamp_ms' }),
    error: text('error'),
    createdAt: createdAt(),
  },
  (t) => [index('jobs_queue_idx').on(t.state, t.createdAt), index('jobs_run_idx').on(t.runId), index('jobs_runner_idx').on(t.runnerId, t.state)],
);

export const runSteps = sqliteTable(
  'run_steps',
  {
    id: id(),
    runId: text('run_id').notNull(),
    jobIndex: integer('job_index').notNull(),
    index: integer('index').notNull(),
    name: text('name').notNull(),
    type: text('type').notNull(),
    state: text('state', { enum: stepStates }).notNull().default('pending'),
    exitCode: integer('exit_code'),
    outputs: text('outputs', { mode: 'json' }).$type<Record<string, unknown>>(),
    error: text('error'),
    logBytes: integer('log_bytes').notNull().default(0),
    /** A waiting gate decides by itself (on_timeout) at this time. */
    waitingUntil: integer('waiting_until', { mode: 'timestamp_ms' }),
    startedAt: integer('started_at', { mode: 'timestamp_ms' }),
    finishedAt: integer('finished_at', { mode: 'timestamp_ms' }),
  },
  (t) => [uniqueIndex('run_steps_index_idx').on(t.runId, t.index)],
);

/** Log output in chunks as runners send them; (run, step, seq) is unique so re-sent chunks are ignored. */
export const logEncodings = ['identity', 'br'] as const;
export type LogEncoding = (typeof logEncodings)[number];

export const logChunks = sqliteTable(
  'log_chunks',
  {
    runId: text('run_id').notNull(),
    stepIndex: integer('step_index').notNull(),
    seq: integer('seq').notNull(),
    data: blob('data', { mode: 'buffer' }).notNull(),
    /** How `data` is stored: as sent (rows from before compression, and chunks too small to gain) or compressed. */
    encoding: text('encoding', { enum: logEncodings }).notNull().default('identity'),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.stepIndex, t.seq] })],
);

/**
 * A finished step's log moved out of log_chunks into the artifact store as one object of its chunks, each
 * compressed on its own; `chunkIndex` locates them (per chunk: seq, offset, stored length, raw length, as
 * big-endian u32s) so a reader pages through the object by ranges as it would through rows.
 */
export const logArchives = sqliteTable(
  'log_archives',
  {
    runId: text('run_id').notNull(),
    stepIndex: integer('step_index').notNull(),
    storageKey: text('storage_key').notNull(),
    encoding: text('encoding', { enum: logEncodings }).notNull(),
    chunks: integer('chunks').notNull(),
    bytes: integer('bytes').notNull(),
    storedBytes: integer('stored_bytes').notNull(),
    chunkIndex: blob('chunk_index', { mode: 'buffer' }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.stepIndex] })],
);

export const artifacts = sqliteTable(
  'artifacts',
  {
    id: id(),
    runId: text('run_id').notNull(),
    key: text('key').notNull(),
    size: integer('size').notNull(),
    sha256: text('sha256').notNull(),
    /** Where the store keeps it: `runs/<runId>/<key>`. */
    storageKey: text('storage_key').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('artifacts_key_idx').on(t.runId, t.key)],
);

/** Workflow secrets, AES-GCM encrypted with the server key; write-only through the API. */
export const workflowSecrets = sqliteTable(
  'workflow_secrets',
  {
    workflowId: text('workflow_id').notNull(),
    name: text('name').notNull(),
    ciphertext: text('ciphertext').notNull(),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.workflowId, t.name] })],
);

/** Read-only links to one run for people without an account; only the token's hash is stored. */
export const shareLinks = sqliteTable(
  'share_links',
  {
    id: id(),
    runId: text('run_id').notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    createdBy: text('created_by'),
    createdAt: createdAt(),
    expiresAt: integer('expires_at', { mode: 'timestamp_ms' }),
    revokedAt: integer('revoked_at', { mode: 'timestamp_ms' }),
  },
  (t) => [index('share_links_run_idx').on(t.runId)],
);

/** Live co-editing state (a Yjs document update) per workflow draft, so edits survive restarts. */
export const collabDocs = sqliteTable('collab_docs', {
  workflowId: text('workflow_id').primaryKey(),
  state: blob('state', { mode: 'buffer' }).notNull(),
  updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
});

/** Every decision on an approval gate: who, what, why and when. */
export const gateDecisions = sqliteTable(
  'gate_decisions',
  {
    id: id(),
    runId: text('run_id').notNull(),
    stepIndex: integer('step_index').notNull(),
    decision: text('decision', { enum: ['approved', 'rejected'] }).notNull(),
    /** manual (a person), auto (conditions held) or timeout (on_timeout). */
    via: text('via', { enum: ['manual', 'auto', 'timeout'] }).notNull(),
    userId: text('user_id'),
    comment: text('comment').notNull().default(''),
    createdAt: createdAt(),
  },
  (t) => [index('gate_decisions_run_idx').on(t.runId)],
);

export const environmentProviders = ['docker', 'registry', 's3', 'aws_ecs', 'gcp_cloud_run', 'azure_container_apps', 'digitalocean'] as const;

/** Where deployments go, with their settings and encrypted, write-only secrets. */
export const environments = sqliteTable('environments', {
  id: id(),
  name: text('name').notNull().unique(),
  provider: text('provider', { enum: environmentProviders }).notNull(),
  region: text('region'),
  config: text('config', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
  /** AES-GCM ciphertext of a JSON object NAME → value. */
  secrets: text('secrets').notNull().default(''),
  /** Protected environments take deployments only from workflows an admin allowed, with the admin's approvers. */
  protected: integer('protected', { mode: 'boolean' }).notNull().default(true),
  /** Names of the workflows allowed to deploy here while protected. */
  allowedWorkflows: text('allowed_workflows', { mode: 'json' })
    .$type<string[]>()
    .notNull()
    .default(sql`'[]'`),
  /** E-mails or `role:<role>` whose approval a deployment here needs; set by an admin, not by the workflow. */
  approvers: text('approvers', { mode: 'json' })
    .$type<string[]>()
    .notNull()
    .default(sql`'[]'`),
  createdAt: createdAt(),
  updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
});

/** One row per finished step.deploy: the deploy history of an environment. */
export const deployments = sqliteTable(
  'deployments',
  {
    id: id(),
    environment: text('environment').notNull(),
    workflowId: text('workflow_id').notNull(),
    runId: text('run_id').notNull(),
    step: text('step').notNull(),
    image: text('image').notNull(),
    version: text('version'),
    strategy: text('strategy').notNull(),
    result: text('result').notNull(),
    triggeredBy: text('triggered_by'),
    createdAt: createdAt(),
  },
  (t) => [index('deployments_environment_idx').on(t.environment, t.createdAt), uniqueIndex('deployments_run_step_idx').on(t.runId, t.step)],
);

export const pluginStatuses = ['verified', 'experimental', 'deprecated'] as const;
export type PluginStatus = (typeof pluginStatuses)[number];

/** An installed plugin (`owner/name`). Its status is set by an admin (the registry owner) or by validation, never by its author. */
export const plugins = sqliteTable('plugins', {
  name: text('name').primaryKey(),
  status: text('status', { enum: pluginStatuses }).notNull().default('experimental'),
  /** The registry it was installed from (`local` for an upload or a folder). */
  registry: text('registry').notNull().default('local'),
  /** The environment whose credentials the validation matrix runs the plugin's minimal example with. */
  validationEnvironmentId: text('validation_environment_id').references(() => environments.id, { onDelete: 'set null' }),
  createdAt: createdAt(),
});

/** One row per installed version of a plugin: its manifest, archive and digest, and who installed it. */
export const pluginVersions = sqliteTable(
  'plugin_versions',
  {
    id: id(),
    pluginName: text('plugin_name')
      .notNull()
      .references(() => plugins.name, { onDelete: 'cascade' }),
    version: text('version').notNull(),
    /** `sha256:<hex>` of the archive. */
    digest: text('digest').notNull(),
    /** The parsed plugin.yaml (server/engine/plugin-manifest.ts). */
    manifest: text('manifest', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    /** The plugin archive (tar.gz), kept so this Flowyard can serve it as a registry and runners can fetch it. */
    archive: blob('archive', { mode: 'buffer' }).notNull(),
    installedBy: text('installed_by').references(() => users.id, { onDelete: 'set null' }),
    installedAt: createdAt(),
  },
  (t) => [uniqueIndex('plugin_versions_name_version_idx').on(t.pluginName, t.version)],
);

export const pluginValidationResults = ['green', 'red', 'not_validated'] as const;

/** A run of a plugin version's minimal example by the validation matrix. */
export const pluginValidations = sqliteTable(
  'plugin_validations',
  {
    id: id(),
    pluginName: text('plugin_name')
      .notNull()
      .references(() => plugins.name, { onDelete: 'cascade' }),
    version: text('version').notNull(),
    result: text('result', { enum: pluginValidationResults }).notNull(),
    runId: text('run_id'),
    detail: text('detail').notNull().default(''),
    createdAt: createdAt(),
  },
  (t) => [index('plugin_validations_plugin_idx').on(t.pluginName, t.createdAt)],
);

/** Every status change of a plugin, with who or what made it and the validation runs that caused it. */
export const pluginStatusChanges = sqliteTable(
  'plugin_status_changes',
  {
    id: id(),
    pluginName: text('plugin_name')
      .notNull()
      .references(() => plugins.name, { onDelete: 'cascade' }),
    fromStatus: text('from_status', { enum: pluginStatuses }),
    toStatus: text('to_status', { enum: pluginStatuses }).notNull(),
    /** `validation` or the id of the admin who set it. */
    changedBy: text('changed_by').notNull(),
    reason: text('reason').notNull().default(''),
    runIds: text('run_ids', { mode: 'json' })
      .$type<string[]>()
      .notNull()
      .default(sql`'[]'`),
    createdAt: createdAt(),
  },
  (t) => [index('plugin_status_changes_plugin_idx').on(t.pluginName, t.createdAt)],
);
