/**
 * Deploy providers of installed plugins: deploy.target's `provider` names docker (built in) or a provider a plugin
 * declares under deploy_providers. The build checks the name (an unknown one names the plugin to install) and the
 * target's `settings` against the provider's JSON Schema, made strict, and marks each step.deploy whose target uses a
 * plugin provider with the pinned plugin version (StepSpec.plugin), so the runner calls that plugin. Pure: no I/O.
 */
import type { z } from 'zod';
import type { Diagnostic, PathSegment } from './diagnostics.ts';
import { diagnosticAt } from './locate.ts';
import type { InstalledPlugin, PluginDeployBinding } from './plugin-manifest.ts';
import { strictObjectSchema } from './plugin-steps.ts';
import { cloudProviderPlugins } from './schema/modules.ts';
import type { Workflow, WorkflowModule } from './schema/workflow.ts';
import type { SourceDocument } from './source.ts';
import { didYouMean, suggestionFix } from './suggest.ts';

/** A deploy provider an installed plugin version declares, with its settings schema ready to check. */
export interface PluginDeployProviderType {
  name: string;
  description: string;
  /** The settings JSON Schema as plugin.yaml writes it (for completion and the marketplace). */
  settingsSchema: Record<string, unknown>;
  settings: z.ZodObject;
  plugin: PluginDeployBinding;
}

export const BUILT_IN_DEPLOY_PROVIDER = 'docker';

/** The deploy providers a plugin version provides (none for a manifest stored before deploy_providers existed). */
export function pluginDeployProviders(plugin: InstalledPlugin): PluginDeployProviderType[] {
  return (plugin.manifest.deploy_providers ?? []).map((provider) => ({
    name: provider.name,
    description: `${provider.description} (plugin ${plugin.name} ${plugin.version})`,
    settingsSchema: provider.settings,
    settings: strictObjectSchema(plugin, `settings schema of deploy provider ${provider.name}`, provider.settings),
    plugin: { name: plugin.name, version: plugin.version, digest: plugin.digest, runtime: { ...provider.runtime, kind: 'remote' } },
  }));
}

type Raw = Record<string, unknown>;
const isRecord = (value: unknown): value is Raw => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Where a deploy provider is named in the document as written: deploy.target modules and upstream's step.deploy `provider`. */
interface ProviderUse {
  provider: string;
  at: PathSegment[];
  /** The module's settings and their path; undefined for a provider named on a step (its implied target has none). */
  settings?: { value: unknown; at: PathSegment[] };
}

function providerUses(document: unknown): ProviderUse[] {
  const doc = isRecord(document) ? document : {};
  const uses: ProviderUse[] = [];
  (Array.isArray(doc.modules) ? doc.modules : []).forEach((module, i) => {
    if (!isRecord(module) || module.type !== 'deploy.target') return;
    const config = isRecord(module.config) ? module.config : {};
    const provider = typeof config.provider === 'string' ? config.provider : BUILT_IN_DEPLOY_PROVIDER;
    const at: PathSegment[] = ['modules', i, 'config', 'provider'];
    uses.push({ provider, at, settings: { value: config.settings, at: ['modules', i, 'config', 'settings'] } });
  });
  for (const [name, pipeline] of Object.entries(isRecord(doc.pipelines) ? doc.pipelines : {})) {
    const steps = isRecord(pipeline) && Array.isArray(pipeline.steps) ? (pipeline.steps as unknown[]) : [];
    steps.forEach((step, i) => {
      if (!isRecord(step) || step.type !== 'step.deploy' || !isRecord(step.config)) return;
      const { provider, target } = step.config;
      // A step naming a target takes the target's provider; normalise reports a provider that differs.
      if (typeof provider === 'string' && target === undefined) uses.push({ provider, at: ['pipelines', name, 'steps', i, 'config', 'provider'] });
    });
  }
  return uses;
}

/** The names of the settings a JSON Schema allows at `path` inside it (for did-you-mean). */
function settingNamesAt(schema: unknown, path: readonly PropertyKey[]): string[] {
  let current = schema;
  for (const segment of path) {
    if (!isRecord(current)) return [];
    current = typeof segment === 'number' ? current.items : isRecord(current.properties) ? current.properties[String(segment)] : undefined;
  }
  return isRecord(current) && isRecord(current.properties) ? Object.keys(current.properties) : [];
}

function settingsDiagnostics(source: SourceDocument, use: ProviderUse, def: PluginDeployProviderType): Diagnostic[] {
  const value = use.settings?.value ?? {};
  const parsed = def.settings.safeParse(value);
  if (parsed.success) return [];
  const of = `deploy provider ${def.name} (plugin ${def.plugin.name})`;
  const base = use.settings?.value === undefined ? use.at.slice(0, -1) : use.settings!.at;
  if (!use.settings) {
    const needed = parsed.error.issues.map((issue) => issue.path.join('.') || issue.message).join(', ');
    const message = `${of} needs settings (${needed}); declare a deploy.target module with provider ${def.name} and its settings, and name it as target`;
    return [diagnosticAt(source, use.at, 'error', 'missing_field', message)];
  }
  return parsed.error.issues.flatMap((issue): Diagnostic[] => {
    const inner = issue.path as PathSegment[];
    if (issue.code === 'unrecognized_keys') {
      const known = settingNamesAt(def.settingsSchema, inner);
      return issue.keys.map((key) => ({
        ...diagnosticAt(
          source,
          [...base, ...inner, key],
          'error',
          'unknown_key',
          `unknown setting "${key}" of ${of}${didYouMean(key, known)}${known.length ? ` (allowed: ${known.join(', ')})` : ''}`,
          'key',
        ),
        ...suggestionFix(key, known),
      }));
    }
    const field = ['settings', ...inner].join('.');
    let current: unknown = value;
    for (const segment of inner) current = isRecord(current) || Array.isArray(current) ? (current as Raw)[segment as string] : undefined;
    if (issue.code === 'invalid_type' && current === undefined) {
      return [
        diagnosticAt(
          source,
          use.settings!.value === undefined ? base : [...base, ...inner.slice(0, -1)],
          'error',
          'missing_field',
          `${of} needs ${field}`,
          'key',
        ),
      ];
    }
    return [diagnosticAt(source, [...base, ...inner], 'error', 'invalid_value', `${field}: ${issue.message} (${of})`)];
  });
}

export interface DeployProviderCheck {
  diagnostics: Diagnostic[];
  /** Plugins whose providers the workflow uses. */
  usedPlugins: Set<string>;
}

/**
 * Checks every deploy provider the document names: docker, or a provider of an installed plugin (whose settings are
 * checked against its schema). `providers` holds those of the build's plugin set; `required` the plugins that
 * requires.plugins lists (with the entry index); `hint` names required plugins that are not installed.
 */
export function checkDeployProviders(
  source: SourceDocument,
  providers: ReadonlyMap<string, PluginDeployProviderType>,
  required: ReadonlySet<string>,
  hint: string,
): DeployProviderCheck {
  const diagnostics: Diagnostic[] = [];
  const usedPlugins = new Set<string>();
  const known = [BUILT_IN_DEPLOY_PROVIDER, ...new Set([...providers.keys(), ...Object.keys(cloudProviderPlugins)])];
  for (const use of providerUses(source.value)) {
    if (use.provider === BUILT_IN_DEPLOY_PROVIDER) continue;
    const def = providers.get(use.provider);
    if (!def) {
      const plugin = (cloudProviderPlugins as Record<string, string>)[use.provider];
      const message = plugin
        ? `deploy provider "${use.provider}" comes from plugin ${plugin}, which is not installed or not listed; install ${plugin} and add { name: ${plugin}, version: "*" } under requires.plugins`
        : `unknown deploy provider "${use.provider}"${didYouMean(use.provider, known)} (docker is built in; others come from plugins${hint}; known: ${known.join(', ')})`;
      diagnostics.push({
        ...diagnosticAt(source, use.at, 'error', plugin ? 'deploy_provider_plugin_missing' : 'unknown_deploy_provider', message),
        ...(plugin ? {} : suggestionFix(use.provider, known)),
      });
      continue;
    }
    usedPlugins.add(def.plugin.name);
    if (!required.has(def.plugin.name)) {
      diagnostics.push(
        diagnosticAt(
          source,
          use.at,
          'error',
          'plugin_not_required',
          `deploy provider "${use.provider}" comes from plugin ${def.plugin.name}, which requires.plugins does not list; add { name: ${def.plugin.name}, version: "^${def.plugin.version}" } under requires.plugins`,
        ),
      );
    }
    diagnostics.push(...settingsDiagnostics(source, use, def));
  }
  return { diagnostics, usedPlugins };
}

/** Marks each step.deploy whose target module uses a plugin provider with that plugin's pinned version. */
export function bindDeployProviders(workflow: Workflow, providers: ReadonlyMap<string, PluginDeployProviderType>): void {
  const targets = new Map((workflow.modules ?? []).map((m) => [(m as WorkflowModule).name, m as WorkflowModule]));
  for (const pipeline of Object.values(workflow.pipelines)) {
    for (const step of [...pipeline.steps, ...(pipeline.compensation ?? [])]) {
      if (step.type !== 'step.deploy') continue;
      const target = targets.get(String((step.config as Raw).target));
      const def = target?.type === 'deploy.target' ? providers.get(String(target.config.provider)) : undefined;
      if (def) step.plugin = def.plugin;
    }
  }
}
