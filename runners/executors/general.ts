import type { StepExecutor } from './types.ts';

const LEVEL_COLOURS: Record<string, string> = { debug: '\x1b[90m', info: '', warn: '\x1b[33m', error: '\x1b[31m' };

export const setValues: StepExecutor = async (runtime) => {
  const values = (runtime.config.values as Record<string, unknown>) ?? {};
  for (const name of Object.keys(values)) runtime.log(`set ${name}`);
  return { state: 'succeeded', outputs: values, contextUpdates: values };
};

export const logMessage: StepExecutor = async (runtime) => {
  const level = String(runtime.config.level ?? 'info');
  const colour = LEVEL_COLOURS[level] ?? '';
  runtime.log(`${colour}[${level}] ${String(runtime.config.message)}${colour ? '\x1b[0m' : ''}`);
  return { state: 'succeeded' };
};

export const failStep: StepExecutor = async (runtime) => {
  const message = String(runtime.config.message ?? 'failed by step.fail');
  runtime.log(`\x1b[31m${message}\x1b[0m`);
  return { state: 'failed', error: message };
};

export const validateContext: StepExecutor = async (runtime) => {
  const required = (runtime.config.required_fields as string[] | undefined) ?? [];
  const missing = required.filter((field) => {
    const value = field.split('.').reduce<unknown>((at, key) => (at as Record<string, unknown> | undefined)?.[key], runtime.context);
    return value === undefined || value === null || value === '';
  });
  if (runtime.config.strategy === 'json_schema') {
    runtime.log('json_schema validation is not available on this runner version; checked required fields only');
  }
  if (missing.length > 0) {
    const error = `missing required field${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`;
    runtime.log(`\x1b[31m${error}\x1b[0m`);
    return { state: 'failed', error, outputs: { valid: false } };
  }
  runtime.log(`context has ${required.join(', ') || 'no required fields'}`);
  return { state: 'succeeded', outputs: { valid: true } };
};

export const conditional: StepExecutor = async (runtime) => {
  const field = String(runtime.config.field);
  const value = field.split('.').reduce<unknown>((at, key) => (at as Record<string, unknown> | undefined)?.[key], runtime.context);
  const routes = (runtime.config.routes as Record<string, string>) ?? {};
  const target = (value !== undefined && routes[String(value)]) || (runtime.config.default as string | undefined);
  if (!target) {
    const error = `no route for ${field} = ${JSON.stringify(value)} and no default`;
    return { state: 'failed', error };
  }
  runtime.log(`${field} = ${JSON.stringify(value)} → ${target}`);
  return { state: 'succeeded', outputs: { route: target }, jumpTo: target };
};
