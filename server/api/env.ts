import type { Db } from '../../db/client.ts';
import type { ServerConfig } from '../config.ts';
import type { ArtifactStore, LocalBlobAccess } from '../services/artifacts/index.ts';
import type { AuthUser } from '../services/auth.ts';
import type { AuthRunner } from '../services/runners.ts';
import type { EventBus } from '../services/events.ts';
import type { Logger } from 'pino';
import type { ServerMetrics } from '../services/metrics.ts';

export interface AppDeps {
  db: Db;
  config: ServerConfig;
  /** Encrypts workflow secrets at rest. */
  secretsKey: CryptoKey;
  artifacts: ArtifactStore;
  /** What the services publish (runs, jobs, gates, logs, drafts) and long-polls, log streams and co-editing wait on. */
  events: EventBus;
  /** Set when artifacts live in the built-in store, which the API serves itself through signed URLs. */
  localBlobs?: LocalBlobAccess;
  /** Reaches an environment's target (Node-only: sockets), injected by the CLI. */
  testConnection: (provider: string, config: Record<string, unknown>, secrets: Record<string, string>) => Promise<{ ok: boolean; message: string }>;
  /** Set when this process runs the embedded runner: `/readyz` then requires the Docker engine to answer. */
  dockerPing?: () => Promise<void>;
  /** Prometheus registry and instruments of this server (GET /metrics); absent: no metrics (edge). */
  metrics?: ServerMetrics;
  /** Structured JSON logs; absent: errors only, on stderr. */
  logger?: Logger;
}

/** Hono environment shared by every router: dependencies and the authenticated user. */
export interface AppEnv {
  Variables: {
    deps: AppDeps;
    user: AuthUser;
    /** Set on runner protocol routes only. */
    runner: AuthRunner;
    /** This request's id (X-Request-Id), set by middleware/request-id.ts. */
    requestId: string;
  };
}
