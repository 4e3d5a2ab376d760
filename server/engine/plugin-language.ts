/**
 * The workflow language for a set of plugin versions: the built-in step types plus the plugins' step types, and
 * the schemas built from them. Building the schemas costs milliseconds, and the editor asks for a build as the
 * user types, so each set (by names, versions and digests) is built once and kept. Pure: no I/O.
 */
import { pluginDeployProviders, type PluginDeployProviderType } from './plugin-deploy.ts';
import type { InstalledPlugin, PluginPin } from './plugin-manifest.ts';
import { pluginStepTypes } from './plugin-steps.ts';
import { moduleTypes } from './schema/modules.ts';
import { stepTypes, stepTypesByName, type StepTypeDef } from './schema/steps.ts';
import { builtInSchemas, workflowSchemasFor, type WorkflowSchemas } from './schema/workflow.ts';

export interface AvailableTypes {
  moduleTypes: string[];
  stepTypes: string[];
  triggerTypes: string[];
}

export interface Language {
  /** Names, versions and digests of the plugin set, in order. */
  key: string;
  plugins: readonly InstalledPlugin[];
  stepTypes: readonly StepTypeDef[];
  stepTypesByName: ReadonlyMap<string, StepTypeDef>;
  /** Deploy providers of the plugins (docker is built in and not listed). */
  deployProvidersByName: ReadonlyMap<string, PluginDeployProviderType>;
  schemas: WorkflowSchemas;
  available: AvailableTypes;
  /** Plugin step types left out because a built-in has that name. */
  shadowed: Array<{ plugin: string; type: string }>;
  /** Plugin step types (or deploy providers) left out because an earlier plugin of the set provides that type. */
  conflicts: Array<{ type: string; kept: string; dropped: string }>;
}

const availableFor = (types: readonly StepTypeDef[]): AvailableTypes => ({
  moduleTypes: moduleTypes.map((def) => def.type).sort(),
  stepTypes: types.map((def) => def.type).sort(),
  triggerTypes: ['http', 'manual', 'schedule'],
});

export const builtInLanguage: Language = {
  key: '',
  plugins: [],
  stepTypes,
  stepTypesByName,
  deployProvidersByName: new Map(),
  schemas: builtInSchemas,
  available: availableFor(stepTypes),
  shadowed: [],
  conflicts: [],
};

export const pluginSetKey = (plugins: readonly PluginPin[]) => plugins.map((p) => `${p.name}@${p.version}#${p.digest}`).join(',');

const memo = new Map<string, Language>();
const MEMO_LIMIT = 32;

function buildLanguage(key: string, plugins: readonly InstalledPlugin[]): Language {
  const byName = new Map<string, StepTypeDef>(stepTypesByName);
  const providers = new Map<string, string>();
  const deployProviders = new Map<string, PluginDeployProviderType>();
  const shadowed: Language['shadowed'] = [];
  const conflicts: Language['conflicts'] = [];
  for (const plugin of plugins) {
    for (const def of pluginStepTypes(plugin)) {
      if (stepTypesByName.has(def.type)) shadowed.push({ plugin: plugin.name, type: def.type });
      else if (providers.has(def.type)) conflicts.push({ type: def.type, kept: providers.get(def.type)!, dropped: plugin.name });
      else {
        byName.set(def.type, def);
        providers.set(def.type, plugin.name);
      }
    }
    for (const def of pluginDeployProviders(plugin)) {
      const kept = deployProviders.get(def.name);
      if (kept) conflicts.push({ type: `deploy provider ${def.name}`, kept: kept.plugin.name, dropped: plugin.name });
      else deployProviders.set(def.name, def);
    }
  }
  const all = [...byName.values()];
  return {
    key,
    plugins,
    stepTypes: all,
    stepTypesByName: byName,
    deployProvidersByName: deployProviders,
    schemas: workflowSchemasFor(all, [...new Set(plugins.map((p) => p.name))]),
    available: availableFor(all),
    shadowed,
    conflicts,
  };
}

/** The language for these plugin versions (earlier ones win a step type two of them declare), built once per set. */
export function languageFor(plugins: readonly InstalledPlugin[]): Language {
  if (plugins.length === 0) return builtInLanguage;
  const key = pluginSetKey(plugins);
  const known = memo.get(key);
  if (known) {
    memo.delete(key);
    memo.set(key, known);
    return known;
  }
  const language = buildLanguage(key, plugins);
  memo.set(key, language);
  if (memo.size > MEMO_LIMIT) memo.delete(memo.keys().next().value!);
  return language;
}
