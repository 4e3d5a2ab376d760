import { randomUUID } from 'node:crypto';
import { parseDuration } from '../../server/engine/schema/common.ts';
import { deployTargetConfig } from '../../server/engine/schema/modules.ts';
import { parseStepConfig } from '../../server/engine/schema/steps.ts';
import type { DeployPlan, DeployProvider, DeployTarget } from '../deploy/provider.ts';
import { createProvider } from '../deploy/providers.ts';
import { errorMessage } from '../docker/engine.ts';
import { stepDeadline } from '../docker/images.ts';
import { checkDockerHost } from '../docker/policy.ts';
import { policyOf, refusal, stepImage } from './isolation.ts';
import type { StepExecutor, StepResult, StepRuntime } from './types.ts';

class ConfigError extends Error {}

/**
 * The app and version an image reference names: the repository without its registry host
 * (`127.0.0.1:5000/team/web:v2` → team/web), and the tag unless it is missing, `latest` or a digest.
 */
function appAndVersion(image: string): { app: string; version: string | null } {
  const [name = image, digest] = image.split('@');
  const colon = name.lastIndexOf(':');
  const hasTag = colon > name.lastIndexOf('/');
  const parts = (hasTag ? name.slice(0, colon) : name).split('/');
  if (parts.length > 1 && (/[.:]/.test(parts[0]!) || parts[0] === 'localhost')) parts.shift();
  const tag = hasTag ? name.slice(colon + 1) : null;
  return { app: parts.join('/'), version: digest || tag === 'latest' ? null : tag };
}

function resolveTarget(runtime: StepRuntime, name: string): DeployTarget {
  const module = runtime.job.modules[name];
  if (!module) throw new ConfigError(`deploy target "${name}" is not defined in this workflow`);
  if (module.type !== 'deploy.target') throw new ConfigError(`module "${name}" has type ${module.type}, not deploy.target`);
  const parsed = deployTargetConfig.safeParse(module.config);
  if (parsed.success) return parsed.data;
  throw new ConfigError(`deploy target "${name}": ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(config)'}: ${issue.message}`).join('; ')}`);
}

/** Rolling limits as numbers: the build turns upstream's percentages into numbers of instances. */
function instanceCount(value: number | string, field: string): number {
  if (typeof value === 'number') return value;
  throw new ConfigError(`step.deploy: config.rolling.${field}: expected a number of instances, got ${value} (the build resolves percentages)`);
}

function buildPlan(runtime: StepRuntime): { plan: DeployPlan; target: DeployTarget } {
  // Absent health_check and rolling blocks get their fields' defaults, like any other field.
  const raw = { ...runtime.config, health_check: runtime.config.health_check ?? {}, rolling: runtime.config.rolling ?? {} };
  const parsed = parseStepConfig('step.deploy', raw);
  if (!parsed.ok) throw new ConfigError(parsed.error);
  const { config } = parsed;
  // Present by the defaults given above; the schema keeps both blocks optional in the built workflow.
  const check = config.health_check!;
  const rolling = {
    maxSurge: instanceCount(config.rolling!.max_surge, 'max_surge'),
    maxUnavailable: instanceCount(config.rolling!.max_unavailable, 'max_unavailable'),
  };
  if (config.target === undefined) throw new ConfigError('step.deploy: config.target: required (the build derives it from provider)');
  if (config.strategy === 'rolling' && rolling.maxSurge === 0 && rolling.maxUnavailable === 0) {
    throw new ConfigError('rolling.max_surge and rolling.max_unavailable cannot both be 0: the update could never make progress');
  }
  if (config.strategy === 'canary' && !config.canary)
    throw new ConfigError('strategy canary needs canary.steps, e.g. [{ weight: 25, pause: 1m }, { weight: 100 }]');
  const { app, version } = appAndVersion(config.image);
  const plan: DeployPlan = {
    deploymentId: randomUUID(),
    app,
    environment: config.environment,
    image: config.image,
    version,
    strategy: config.strategy,
    replicas: config.replicas,
    rolling,
    canary: (config.canary?.steps ?? []).map((step) => ({ weight: step.weight, pauseMs: step.pause ? (parseDuration(step.pause) ?? 0) : 0 })),
    healthCheck: {
      path: check.path,
      intervalMs: parseDuration(check.interval)!,
      timeoutMs: parseDuration(check.timeout)!,
      healthyThreshold: check.healthy_threshold,
    },
    rollbackOnFailure: config.rollback_on_failure,
  };
  return { plan, target: resolveTarget(runtime, config.target) };
}

/** The provider for a deploy step's target: the built-in one, or (plugins/executor.ts) its plugin's. */
export type ProviderFor = (target: DeployTarget, runtime: StepRuntime) => DeployProvider;

/**
 * Deploys `config.image` to `config.environment` on the deploy.target module `config.target` with the
 * chosen strategy. A failed health check rolls back (rollback_on_failure) and fails the step; cancel or
 * the step timeout stops starting instances and always rolls back. Outputs deployment_id, version, status
 * (deployed, rolled_back or failed) and url (where the live version answers).
 */
export const deployWith =
  (providerFor: ProviderFor): StepExecutor =>
  async (runtime) => {
    let built: ReturnType<typeof buildPlan>;
    try {
      built = buildPlan(runtime);
    } catch (error) {
      if (error instanceof ConfigError) return { state: 'failed', error: error.message };
      throw error;
    }
    const { plan, target } = built;
    try {
      if (target.docker_host !== undefined) checkDockerHost(policyOf(runtime), target.docker_host);
      // On the runner's own engine the image is this run's build or one the run may use, by ID; another
      // engine pulls it by name from a registry.
      else if (target.provider === 'docker') plan.image = (await stepImage(runtime, plan.image)).id;
    } catch (error) {
      return { ...refusal(error), outputs: { deployment_id: plan.deploymentId, image: String(runtime.config.image), status: 'failed' } };
    }
    const deadline = stepDeadline(runtime.signal, runtime.step.timeoutMs);
    try {
      const provider = providerFor(target, runtime);
      const outcome = await provider.deploy(plan, { log: (line) => runtime.log(line), signal: deadline.signal });
      const outputs = {
        deployment_id: plan.deploymentId,
        image: String(runtime.config.image),
        version: outcome.version,
        status: outcome.status,
        url: outcome.url,
      };
      if (outcome.status === 'deployed') {
        runtime.log(`deployed ${plan.app} ${outcome.version} to ${plan.environment}: ${outcome.url ?? 'no url'}`);
        return { state: 'succeeded', outputs };
      }
      const state: Exclude<StepResult['state'], 'succeeded'> = runtime.signal.aborted ? 'cancelled' : deadline.signal.aborted ? 'timed_out' : 'failed';
      const reason = { failed: `failed: ${outcome.error}`, timed_out: `timed out after ${runtime.step.timeoutMs} ms`, cancelled: 'was cancelled' }[state];
      const ending = outcome.status === 'rolled_back' ? 'rolled back to the previous version' : 'not rolled back (rollback_on_failure is off)';
      return { state, outputs, error: `deployment of ${plan.app} ${outcome.version} to ${plan.environment} ${reason}; ${ending}` };
    } catch (error) {
      return {
        state: runtime.signal.aborted ? 'cancelled' : 'failed',
        outputs: { deployment_id: plan.deploymentId, image: String(runtime.config.image), status: 'failed' },
        error: errorMessage(error),
      };
    } finally {
      deadline.dispose();
    }
  };

/** step.deploy of a target whose provider is built in (docker). */
export const deploy: StepExecutor = deployWith((target, runtime) => createProvider(target, runtime.docker));
