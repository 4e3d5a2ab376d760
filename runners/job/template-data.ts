import { hasTemplate, renderString } from '../../server/engine/templates/index.ts';
import type { JobSpec } from '../protocol/v1.ts';

/** What templates see, as in the seed engine: context values on top, plus steps, trigger, meta, etc. */
export function templateData(job: JobSpec, context: Record<string, unknown>, stepOutputs: Record<string, unknown>, startedAt: Date) {
  return {
    ...context,
    steps: stepOutputs,
    trigger: job.trigger,
    meta: {
      run_id: job.runId,
      run_number: job.runNumber,
      workflow: job.workflow,
      pipeline: job.pipeline,
      started_at: startedAt.toISOString(),
      trigger_type: job.trigger.type ?? 'manual',
    },
    Version: job.version ?? '',
    Env: job.env,
    Inputs: job.inputs,
    Secrets: job.secrets,
  };
}

/** Resolves every template string in a config value; errors name the field they came from. */
export function resolveTemplates(value: unknown, data: Record<string, unknown>, strict: boolean, path = 'config'): unknown {
  if (typeof value === 'string') {
    if (!hasTemplate(value)) return value;
    try {
      return renderString(value, data, { strict });
    } catch (error) {
      throw new Error(`${path}: ${(error as Error).message}`);
    }
  }
  if (Array.isArray(value)) return value.map((item, i) => resolveTemplates(item, data, strict, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveTemplates(v, data, strict, `${path}.${k}`)]));
  }
  return value;
}

/** A condition is true unless it renders empty, false, 0 or no/off. */
export function isTruthy(rendered: string): boolean {
  return !['', 'false', '0', 'no', 'off', '<no value>'].includes(rendered.trim().toLowerCase());
}
