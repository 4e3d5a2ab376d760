import type { StepConfig } from '../../server/engine/schema/steps.ts';
import type { PullPolicy } from '../docker/engine.ts';
import { DEFAULT_RUNNER_POLICY, checkHostNetwork, type RunnerPolicy } from '../docker/policy.ts';
import { resolveImage, type ResolvedImage } from '../docker/run-images.ts';
import { ensureRunNetwork } from '../docker/run-network.ts';
import type { StepRuntime } from './types.ts';

export const policyOf = (runtime: StepRuntime): RunnerPolicy => runtime.policy ?? DEFAULT_RUNNER_POLICY;

/**
 * The engine network for a step's network_mode: none; bridge → the run's own network (see
 * run-network.ts); host only when the runner allows it. Throws a PolicyError when host is not allowed.
 */
export async function stepNetwork(runtime: StepRuntime, mode: StepConfig<'step.shell_exec'>['network_mode']): Promise<string> {
  const policy = policyOf(runtime);
  switch (mode) {
    case 'none':
      return 'none';
    case 'host':
      checkHostNetwork(policy);
      return 'host';
    case 'bridge':
      return ensureRunNetwork(runtime.docker, runtime.job.runId, policy.allowEgress);
  }
}

/** The image ID a step's image reference stands for in this run (see run-images.ts), narrated in the step log. */
export async function stepImage(runtime: StepRuntime, ref: string, pullPolicy: PullPolicy = 'if_not_present'): Promise<ResolvedImage> {
  const resolved = await resolveImage(runtime.docker, runtime.job.runId, ref, pullPolicy);
  if (resolved.builtByRun) runtime.log(`using ${ref} built by this run (${resolved.ref}, ${resolved.id.slice(7, 19)})`);
  return resolved;
}

/** A failed step for a refused or unavailable image or network; other errors propagate. */
export function refusal(error: unknown): { state: 'failed'; error: string } {
  return { state: 'failed', error: error instanceof Error ? error.message : String(error) };
}
