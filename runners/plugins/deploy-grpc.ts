/**
 * flowyard.plugin.v1.DeployProviderService (proto/flowyard/plugin/v1/deploy.proto): the runner's DeployProvider
 * interface over gRPC. Shared by both sides: the runner's adapter (runners/deploy/plugin-provider.ts) and the plugin's
 * server (deploy-serve.ts), so a plan and its outcome are encoded and decoded in one place.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { AppStatus, DeployOutcome, DeployPlan, InstanceMetrics, Strategy } from '../deploy/provider.ts';
import type { JsonObject } from './contract.ts';
import { fromStruct, type StructMessage, toStruct } from './struct.ts';

const DEPLOY_PROTO = 'flowyard/plugin/v1/deploy.proto';
const PROTO_LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

/**
 * The folder holding flowyard/plugin/v1/*.proto: `proto/` beside a packed plugin's bundle, else this repository's
 * (a plugin run from source, and the runner).
 */
function protoDir(): string {
  const packed = join(dirname(resolve(process.argv[1] ?? '.')), 'proto');
  return existsSync(join(packed, DEPLOY_PROTO)) ? packed : resolve(import.meta.dirname ?? '.', 'proto');
}

let service: grpc.ServiceClientConstructor | undefined;

/** The DeployProviderService client constructor (its `.service` is the server-side definition too). */
export function deployProviderService(): grpc.ServiceClientConstructor {
  if (service) return service;
  const definition = protoLoader.loadSync(DEPLOY_PROTO, { ...PROTO_LOADER_OPTIONS, includeDirs: [protoDir()] });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    flowyard: { plugin: { v1: { DeployProviderService: grpc.ServiceClientConstructor } } };
  };
  return (service = loaded.flowyard.plugin.v1.DeployProviderService);
}

/** The deploy.target a call is for, as the plugin receives it. */
export interface PluginTarget {
  provider: string;
  region: string;
  settings: JsonObject;
  /** Values of the secrets the settings name, by secret name. */
  secrets: Record<string, string>;
}

export interface TargetMessage {
  provider?: string;
  region?: string;
  settings?: StructMessage;
  secrets?: Record<string, string>;
}

export const encodeTarget = (target: PluginTarget): TargetMessage => ({ ...target, settings: toStruct(target.settings) });
export const decodeTarget = (message: TargetMessage | undefined): PluginTarget => ({
  provider: message?.provider ?? '',
  region: message?.region ?? '',
  settings: fromStruct(message?.settings),
  secrets: message?.secrets ?? {},
});

export interface DeployRequestMessage {
  target?: TargetMessage;
  deployment_id: string;
  app: string;
  environment: string;
  image: string;
  version: string;
  replicas: number;
  strategy: string;
  max_surge: number;
  max_unavailable: number;
  canary: Array<{ weight: number; pause_ms: number | string }>;
  health_check: { path: string; interval_ms: number | string; timeout_ms: number | string; healthy_threshold: number };
  rollback_on_failure: boolean;
}

export function encodePlan(target: PluginTarget, plan: DeployPlan): DeployRequestMessage {
  return {
    target: encodeTarget(target),
    deployment_id: plan.deploymentId,
    app: plan.app,
    environment: plan.environment,
    image: plan.image,
    version: plan.version ?? '',
    replicas: plan.replicas,
    strategy: plan.strategy,
    max_surge: plan.rolling.maxSurge,
    max_unavailable: plan.rolling.maxUnavailable,
    canary: plan.canary.map((step) => ({ weight: step.weight, pause_ms: step.pauseMs })),
    health_check: {
      path: plan.healthCheck.path,
      interval_ms: plan.healthCheck.intervalMs,
      timeout_ms: plan.healthCheck.timeoutMs,
      healthy_threshold: plan.healthCheck.healthyThreshold,
    },
    rollback_on_failure: plan.rollbackOnFailure,
  };
}

export function decodePlan(message: DeployRequestMessage): DeployPlan {
  return {
    deploymentId: message.deployment_id,
    app: message.app,
    environment: message.environment,
    image: message.image,
    version: message.version || null,
    replicas: message.replicas,
    strategy: message.strategy as Strategy,
    rolling: { maxSurge: message.max_surge, maxUnavailable: message.max_unavailable },
    canary: message.canary.map((step) => ({ weight: step.weight, pauseMs: Number(step.pause_ms) })),
    healthCheck: {
      path: message.health_check.path,
      intervalMs: Number(message.health_check.interval_ms),
      timeoutMs: Number(message.health_check.timeout_ms),
      healthyThreshold: message.health_check.healthy_threshold,
    },
    rollbackOnFailure: message.rollback_on_failure,
  };
}

export interface OutcomeMessage {
  status: string;
  version: string;
  url: string;
  error: string;
}

export const encodeOutcome = (outcome: DeployOutcome): OutcomeMessage => ({
  status: outcome.status,
  version: outcome.version,
  url: outcome.url ?? '',
  error: outcome.error ?? '',
});

const OUTCOME_STATUSES: ReadonlySet<string> = new Set(['deployed', 'rolled_back', 'failed']);

export function decodeOutcome(message: OutcomeMessage): DeployOutcome {
  if (!OUTCOME_STATUSES.has(message.status)) {
    return {
      status: 'failed',
      version: message.version,
      url: null,
      error: `the plugin answered status "${message.status}", not deployed, rolled_back or failed`,
    };
  }
  return {
    status: message.status as DeployOutcome['status'],
    version: message.version,
    url: message.url || null,
    ...(message.error ? { error: message.error } : {}),
  };
}

export interface AppStatusMessage {
  app: string;
  environment: string;
  deployment_id: string;
  version: string;
  slot: string;
  instances: Array<{ id: string; version: string; slot: string; url: string; state: string }>;
  error: string;
}

export const encodeStatus = (status: AppStatus): AppStatusMessage => ({
  app: status.app,
  environment: status.environment,
  deployment_id: status.deploymentId ?? '',
  version: status.version ?? '',
  slot: status.slot ?? '',
  instances: status.instances,
  error: '',
});

export const decodeStatus = (message: AppStatusMessage): AppStatus => ({
  app: message.app,
  environment: message.environment,
  deploymentId: message.deployment_id || null,
  version: message.version || null,
  slot: message.slot || null,
  instances: message.instances.map(({ id, version, slot, url, state }) => ({ id, version, slot, url, state })),
});

export interface MetricsMessage {
  instances: Array<{ id: string; version: string; cpu_percent: number; memory_bytes: number | string }>;
  error: string;
}

export const encodeMetrics = (metrics: InstanceMetrics[]): MetricsMessage => ({
  instances: metrics.map((m) => ({ id: m.id, version: m.version, cpu_percent: m.cpuPercent, memory_bytes: m.memoryBytes })),
  error: '',
});

export const decodeMetrics = (message: MetricsMessage): InstanceMetrics[] =>
  message.instances.map((m) => ({ id: m.id, version: m.version, cpuPercent: m.cpu_percent, memoryBytes: Number(m.memory_bytes) }));

/** A streamed event: one narration line or the outcome. */
export interface DeployEventMessage {
  event?: 'log' | 'outcome';
  log?: string;
  outcome?: OutcomeMessage;
}
