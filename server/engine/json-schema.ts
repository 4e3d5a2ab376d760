import { z } from 'zod';
import { BUILT_IN_DEPLOY_PROVIDER } from './plugin-deploy.ts';
import { builtInLanguage, type Language } from './plugin-language.ts';
import { strictJsonSchema } from './plugin-steps.ts';
import { anyCaseSchemas } from './schema/common.ts';

export const WORKFLOW_SCHEMA_PATH = '/api/schema/workflow.json';

const cache = new WeakMap<Language, Record<string, unknown>>();

type JsonSchema = Record<string, unknown>;
const isSchema = (value: unknown): value is JsonSchema => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * deploy.target's `provider` is a free string in the zod schema (the build checks it against the plugins it loads);
 * for editors it offers docker and each plugin provider as completions, and, per provider, its settings keys (an
 * if/then on `provider`). Other names stay valid here: the build's diagnostic names the plugin to install.
 */
function offerDeployProviders(schema: JsonSchema, language: Language): void {
  const modules = isSchema(schema.properties) && isSchema(schema.properties.modules) ? schema.properties.modules : undefined;
  const variants = isSchema(modules?.items) && Array.isArray(modules.items.oneOf) ? (modules.items.oneOf as unknown[]) : [];
  const target = variants.find(
    (v): v is JsonSchema => isSchema(v) && isSchema(v.properties) && isSchema(v.properties.type) && v.properties.type.const === 'deploy.target',
  );
  const config = isSchema(target?.properties) ? target.properties.config : undefined;
  if (!isSchema(config) || !isSchema(config.properties) || !isSchema(config.properties.provider)) return;
  const { pattern, ...provider } = config.properties.provider;
  const providers = [...language.deployProvidersByName.values()];
  config.properties.provider = {
    ...provider,
    anyOf: [
      { const: BUILT_IN_DEPLOY_PROVIDER, description: "Built in: containers on a Docker engine (the runner's, or docker_host)." },
      ...providers.map((def) => ({ const: def.name, description: def.description })),
      { type: 'string', pattern, description: 'A deploy provider of a plugin listed under requires.plugins.' },
    ],
  };
  if (providers.length === 0) return;
  config.allOf = providers.map((def) => ({
    if: { properties: { provider: { const: def.name } }, required: ['provider'] },
    then: {
      properties: {
        settings: { description: `Settings of deploy provider ${def.name}: ${def.description}`, ...(strictJsonSchema(def.settingsSchema) as JsonSchema) },
      },
    },
  }));
}

/**
 * JSON Schema (draft 2020-12) of the workflow language for editors: input shapes, so defaulted fields are
 * optional and unknown keys are flagged. `id` is the URL it is served from. With a language that has plugins
 * (plugin-language.ts), their step types and deploy providers are in it too, so editors complete and describe them.
 */
export function workflowJsonSchema(id?: string, language: Language = builtInLanguage): Record<string, unknown> {
  let schema = cache.get(language);
  if (!schema) {
    schema = z.toJSONSchema(language.schemas.workflowSchema, {
      io: 'input',
      unrepresentable: 'any',
      override: ({ zodSchema, jsonSchema }) => {
        const synonyms = anyCaseSchemas.get(zodSchema);
        if (synonyms && Array.isArray(jsonSchema.enum)) {
          const values = [...jsonSchema.enum.map(String), ...synonyms];
          jsonSchema.enum = [...new Set([...values, ...values.map((v) => v.toUpperCase()), ...values.map((v) => v.toLowerCase())])];
        }
      },
    }) as Record<string, unknown>;
    offerDeployProviders(schema, language);
    cache.set(language, schema);
  }
  return id ? { ...schema, $id: id, title: 'Flowyard workflow' } : { ...schema, title: 'Flowyard workflow' };
}
