import { parseStepConfig, type StepConfig, type StepType } from '../../server/engine/schema/steps.ts';
import type { StepExecutor, StepResult, StepRuntime } from './types.ts';

/**
 * An executor of one built-in step type: it gets the step's config (templates resolved) parsed by that type's
 * schema, defaults applied. A config the schema refuses fails the step with a message naming the field.
 */
export function withConfig<T extends StepType>(type: T, run: (runtime: StepRuntime, config: StepConfig<T>) => Promise<StepResult>): StepExecutor {
  return async (runtime) => {
    const parsed = parseStepConfig(type, runtime.config);
    if (!parsed.ok) {
      runtime.log(`\x1b[31m${parsed.error}\x1b[0m`);
      return { state: 'failed', error: parsed.error };
    }
    return run(runtime, parsed.config);
  };
}

/** A config's env map as container environment: numbers and booleans as their text. */
export const stringEnv = (env: Record<string, string | number | boolean> = {}) =>
  Object.fromEntries(Object.entries(env).map(([name, value]) => [name, String(value)]));
