import type { z } from 'zod';
import type { deployTargetConfig } from '../../server/engine/schema/modules.ts';

/** docker (built in) or the name of a deploy provider a plugin declares. */
export type ProviderName = string;
export type Strategy = 'rolling' | 'blue_green' | 'canary';

export interface HealthCheck {
  path: string;
  intervalMs: number;
  timeoutMs: number;
  healthyThreshold: number;
}

/** What a release is made of: enough to start it again (rollback keeps the previous one). */
export interface Release {
  image: string;
  /** The image tag, or the short image id when the reference has no tag (or `latest`). */
  version: string;
  replicas: number;
  healthCheck: HealthCheck;
}

/** One deployment of a release to `app` in `environment`, as step.deploy asks for it. */
export interface DeployPlan extends Omit<Release, 'version'> {
  /** null: the provider names the version (docker: the short image id). */
  version: string | null;
  deploymentId: string;
  app: string;
  environment: string;
  strategy: Strategy;
  rolling: { maxSurge: number; maxUnavailable: number };
  canary: { weight: number; pauseMs: number }[];
  rollbackOnFailure: boolean;
}

export interface DeployContext {
  /** One line of narration in the step log. */
  log(line: string): void;
  /** Cancel or step timeout: stop starting instances and roll back. */
  signal: AbortSignal;
}

export interface DeployOutcome {
  /** rolled_back: the previous version is live again; failed: left as it was found (rollback_on_failure off). */
  status: 'deployed' | 'rolled_back' | 'failed';
  version: string;
  /** Where the live version answers, if anything is live. */
  url: string | null;
  error?: string;
}

export interface InstanceStatus {
  id: string;
  version: string;
  slot: string;
  url: string;
  state: string;
}

export interface AppStatus {
  app: string;
  environment: string;
  deploymentId: string | null;
  version: string | null;
  /** blue or green: the colour of the live deployment. */
  slot: string | null;
  instances: InstanceStatus[];
}

export interface InstanceMetrics {
  id: string;
  version: string;
  cpuPercent: number;
  memoryBytes: number;
}

/**
 * The provider interface of the seed plan; one implementation per deploy.target provider (`providers.ts` picks one):
 * the built-in docker provider, or a plugin's, served over flowyard.plugin.v1.DeployProviderService (plugin-provider.ts).
 */
export interface DeployProvider {
  readonly name: ProviderName;
  /** Checks that the target answers; throws with a message fit for a user otherwise. Resolves to a one-line description. */
  testConnection(): Promise<string>;
  /** Makes the image available where the provider runs it (a registry push for cloud providers). */
  pushImage(image: string, context: DeployContext): Promise<void>;
  /** Fetches the image onto the target if it is not there. */
  pullImage(image: string, context: DeployContext): Promise<void>;
  deploy(plan: DeployPlan, context: DeployContext): Promise<DeployOutcome>;
  status(app: string, environment: string): Promise<AppStatus>;
  /** Deploys the release that was live before the current one again. */
  rollback(app: string, environment: string, context: DeployContext): Promise<DeployOutcome>;
  metrics(app: string, environment: string): Promise<InstanceMetrics[]>;
}

/** The config of a deploy.target module, defaults applied. */
export type DeployTarget = z.output<typeof deployTargetConfig>;
