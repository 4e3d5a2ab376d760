import { withConfig } from './config.ts';

const LEVEL_COLOURS: Record<string, string> = { debug: '\x1b[90m', info: '', warn: '\x1b[33m', error: '\x1b[31m' };

/** The value at a dotted path of the pipeline context, e.g. `deploy.target`. */
const contextValue = (context: Record<string, unknown>, field: string) =>
  field.split('.').reduce<unknown>((at, key) => (at as Record<string, unknown> | undefined)?.[key], context);

export const setValues = withConfig('step.set', async (runtime, { values }) => {
  for (const name of Object.keys(values)) runtime.log(`set ${name}`);
  return { state: 'succeeded', outputs: values, contextUpdates: values };
});

export const logMessage = withConfig('step.log', async (runtime, { level, message }) => {
  const colour = LEVEL_COLOURS[level] ?? '';
  runtime.log(`${colour}[${level}] ${message}${colour ? '\x1b[0m' : ''}`);
  return { state: 'succeeded' };
});

export const failStep = withConfig('step.fail', async (runtime, { message }) => {
  runtime.log(`\x1b[31m${message}\x1b[0m`);
  return { state: 'failed', error: message };
});

export const validateContext = withConfig('step.validate', async (runtime, config) => {
  const required = config.required_fields ?? [];
  const missing = required.filter((field) => {
    const value = contextValue(runtime.context, field);
    return value === undefined || value === null || value === '';
  });
  if (config.strategy === 'json_schema') {
    runtime.log('json_schema validation is not available on this runner version; checked required fields only');
  }
  if (missing.length > 0) {
    const error = `missing required field${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`;
    runtime.log(`\x1b[31m${error}\x1b[0m`);
    return { state: 'failed', error, outputs: { valid: false } };
  }
  runtime.log(`context has ${required.join(', ') || 'no required fields'}`);
  return { state: 'succeeded', outputs: { valid: true } };
});

export const conditional = withConfig('step.conditional', async (runtime, { field, routes, default: fallback }) => {
  const value = contextValue(runtime.context, field);
  const target = (value !== undefined && routes[String(value)]) || fallback;
  if (!target) {
    const error = `no route for ${field} = ${JSON.stringify(value)} and no default`;
    return { state: 'failed', error };
  }
  runtime.log(`${field} = ${JSON.stringify(value)} → ${target}`);
  return { state: 'succeeded', outputs: { route: target }, jumpTo: target };
});
