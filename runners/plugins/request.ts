import type { StepRuntime } from '../executors/types.ts';
import type { PluginStepRef } from '../protocol/v1.ts';
import { type DroppedValue, type JsonObject, pick, referencedNames, representableObject, stripInternalKeys } from './contract.ts';

/** What a plugin step is sent: the JSON of /flowyard/request.json, and the fields of ExecuteRequest. */
export interface PluginRequest {
  step_type: string;
  config: JsonObject;
  metadata: JsonObject;
  trigger: JsonObject;
  /** Outputs of the earlier steps the step's templates refer to, by step name. */
  outputs: JsonObject;
  /** Only the secrets the step's templates refer to. */
  secrets: Record<string, string>;
  /** Set in strict typed mode. */
  config_message?: string;
}

/**
 * The request for one execution of a plugin step. `stepOutputs` holds the outputs of the steps that ran
 * before it. Values a Struct cannot carry are dropped and listed in `dropped`.
 */
export function buildPluginRequest(
  runtime: StepRuntime,
  plugin: PluginStepRef,
  stepOutputs: Record<string, unknown>,
): { request: PluginRequest; dropped: DroppedValue[] } {
  const { job, step } = runtime;
  const dropped: DroppedValue[] = [];
  const configMessage = plugin.runtime.kind === 'remote' ? plugin.runtime.config_message : undefined;
  const config = representableObject(runtime.config, dropped, 'config');
  const secretNames = referencedNames(step.config, 'Secrets', Object.keys(job.secrets));
  const outputNames = referencedNames(step.config, 'steps', Object.keys(stepOutputs));
  const request: PluginRequest = {
    step_type: step.type,
    config: configMessage ? stripInternalKeys(config) : config,
    metadata: representableObject(
      {
        run_id: job.runId,
        run_number: job.runNumber,
        job_id: job.jobId,
        workflow: job.workflow,
        pipeline: job.pipeline,
        version: job.version,
        step: step.name,
        step_index: step.index,
        plugin: plugin.name,
        plugin_version: plugin.version,
      },
      dropped,
      'metadata',
    ),
    trigger: representableObject(job.trigger, dropped, 'trigger'),
    outputs: representableObject(pick(stepOutputs, outputNames), dropped, 'outputs'),
    secrets: pick(job.secrets, secretNames),
  };
  if (configMessage) request.config_message = configMessage;
  return { request, dropped };
}

/** The container's environment: the pipeline's env without the secrets this step does not refer to. */
export function pluginEnv(runtime: StepRuntime, request: PluginRequest): Record<string, string> {
  const unreferenced = new Set(Object.keys(runtime.job.secrets).filter((name) => !Object.hasOwn(request.secrets, name)));
  return Object.fromEntries(Object.entries(runtime.env).filter(([name]) => !unreferenced.has(name)));
}
