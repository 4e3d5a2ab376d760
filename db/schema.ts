import { sql } from 'drizzle-orm';
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

const id = () => text('id').primaryKey().$defaultFn(() => crypto.randomUUID());
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
  createdAt: createdAt(),
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
