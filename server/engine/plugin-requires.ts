/**
 * `requires.plugins` against the installed plugins: which version of each plugin a build uses (the highest
 * installed version in the required range), and the diagnostics for what is missing, unlisted or refused.
 * Pure: no I/O; reads the document as written, so it works whether or not the schema accepted it.
 */
import semver from 'semver';
import type { Diagnostic, PathSegment } from './diagnostics.ts';
import { diagnosticAt } from './locate.ts';
import { checkDeployProviders } from './plugin-deploy.ts';
import type { Language } from './plugin-language.ts';
import type { InstalledPlugin, PluginPin } from './plugin-manifest.ts';
import { isPluginStepType } from './plugin-steps.ts';
import type { SourceDocument } from './source.ts';

export interface Requirement {
  name: string;
  range: string;
  /** Index of the entry under requires.plugins. */
  index: number;
}

export interface PluginChoice {
  plugin: InstalledPlugin;
  requirement?: Requirement;
  /** Required, and this version is in the required range. */
  satisfied: boolean;
}

export interface Resolution {
  /** One version per installed plugin: the required ones first (in the order listed), then the others by name. */
  chosen: PluginChoice[];
  /** Required plugins with no installed version in range (or a range that is not one), with the installed versions. */
  missing: Array<{ requirement: Requirement; installed: string[]; invalidRange: boolean }>;
}

type Raw = Record<string, unknown>;
const isRecord = (value: unknown): value is Raw => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The entries of requires.plugins as written: `{name, version}` or `owner/name@range`. */
export function readRequirements(document: unknown): Requirement[] {
  const requires = isRecord(document) ? document.requires : undefined;
  const list = isRecord(requires) && Array.isArray(requires.plugins) ? requires.plugins : [];
  return list.flatMap((entry, index): Requirement[] => {
    if (typeof entry === 'string' && entry) {
      const at = entry.lastIndexOf('@');
      return [at > 0 ? { name: entry.slice(0, at), range: entry.slice(at + 1) || '*', index } : { name: entry, range: '*', index }];
    }
    if (isRecord(entry) && typeof entry.name === 'string' && entry.name) {
      const version = typeof entry.version === 'string' || typeof entry.version === 'number' ? String(entry.version) : '*';
      return [{ name: entry.name, range: version, index }];
    }
    return [];
  });
}

const newestFirst = (versions: InstalledPlugin[]) => [...versions].sort((a, b) => semver.rcompare(a.version, b.version));

export function resolvePlugins(requirements: readonly Requirement[], installed: readonly InstalledPlugin[]): Resolution {
  const byName = new Map<string, InstalledPlugin[]>();
  for (const plugin of installed) {
    if (!semver.valid(plugin.version)) continue;
    byName.set(plugin.name, [...(byName.get(plugin.name) ?? []), plugin]);
  }
  const chosen: PluginChoice[] = [];
  const missing: Resolution['missing'] = [];
  const taken = new Set<string>();
  for (const requirement of requirements) {
    if (taken.has(requirement.name)) continue;
    const versions = newestFirst(byName.get(requirement.name) ?? []);
    const range = semver.validRange(requirement.range);
    const match = range === null ? undefined : versions.find((p) => semver.satisfies(p.version, range));
    if (!match) missing.push({ requirement, installed: versions.map((p) => p.version), invalidRange: range === null });
    const plugin = match ?? versions[0];
    if (!plugin) continue;
    taken.add(requirement.name);
    chosen.push({ plugin, requirement, satisfied: match !== undefined });
  }
  for (const name of [...byName.keys()].sort()) {
    if (!taken.has(name)) chosen.push({ plugin: newestFirst(byName.get(name)!)[0]!, satisfied: false });
  }
  return { chosen, missing };
}

/** The newest installed version of each plugin: what the editor offers. */
export const newestPlugins = (installed: readonly InstalledPlugin[]): InstalledPlugin[] => resolvePlugins([], installed).chosen.map((c) => c.plugin);

/** The exact versions a build used: the required plugins found in range. */
export const pinsOf = (resolution: Resolution): PluginPin[] =>
  resolution.chosen.filter((c) => c.satisfied).map(({ plugin }) => ({ name: plugin.name, version: plugin.version, digest: plugin.digest }));

/** Every step's type as written, with its path. */
function writtenStepTypes(document: unknown): Array<{ type: string; path: PathSegment[] }> {
  const pipelines = isRecord(document) && isRecord(document.pipelines) ? document.pipelines : {};
  return Object.entries(pipelines).flatMap(([name, pipeline]) =>
    ['steps', 'compensation'].flatMap((list) => {
      const steps = isRecord(pipeline) && Array.isArray(pipeline[list]) ? (pipeline[list] as unknown[]) : [];
      return steps.flatMap((step, i) =>
        isRecord(step) && typeof step.type === 'string' && step.type ? [{ type: step.type, path: ['pipelines', name, list, i, 'type'] }] : [],
      );
    }),
  );
}

const caretRange = (version: string) => (semver.major(version) === 0 ? `~${version}` : `^${version}`);

/** A hint for an unknown step type: the required plugins that are not installed, which may provide it. */
export function missingPluginHint(resolution: Resolution): string {
  const names = resolution.missing.filter((m) => m.requirement.name.includes('/')).map((m) => `${m.requirement.name}@${m.requirement.range}`);
  return names.length ? `; it may come from ${names.join(', ')}, which requires.plugins lists but no installed version matches` : '';
}

/**
 * Diagnostics of plugin use: required plugins not installed, plugin steps and deploy providers whose plugin is not
 * required, refused step types, and deploy.target settings checked against their provider plugin's schema.
 */
export function checkPluginUse(source: SourceDocument, language: Language, resolution: Resolution): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const entryPath = (index: number): PathSegment[] => ['requires', 'plugins', index];
  const choiceOf = new Map(resolution.chosen.map((c) => [c.plugin.name, c]));
  const usedPlugins = new Set<string>();
  let unknownTypes = false;
  const required = new Set(resolution.chosen.flatMap((c) => (c.requirement ? [c.plugin.name] : [])));
  const deploy = checkDeployProviders(source, language.deployProvidersByName, required, missingPluginHint(resolution));
  diagnostics.push(...deploy.diagnostics);
  for (const name of deploy.usedPlugins) usedPlugins.add(name);
  if (deploy.diagnostics.some((d) => d.code === 'unknown_deploy_provider' || d.code === 'deploy_provider_plugin_missing')) unknownTypes = true;
  for (const { type, path } of writtenStepTypes(source.value)) {
    const def = language.stepTypesByName.get(type);
    if (!def) unknownTypes = true;
    if (!isPluginStepType(def)) continue;
    const { name, version } = def.plugin;
    usedPlugins.add(name);
    if (choiceOf.get(name)?.requirement) continue;
    diagnostics.push(
      diagnosticAt(
        source,
        path,
        'error',
        'plugin_not_required',
        `step type "${type}" comes from plugin ${name}, which requires.plugins does not list; add { name: ${name}, version: "${caretRange(version)}" } under requires.plugins`,
      ),
    );
  }
  for (const { requirement, installed, invalidRange } of resolution.missing) {
    const { name, range, index } = requirement;
    const at = [...entryPath(index), ...(invalidRange || installed.length ? ['version'] : [])];
    if (!name.includes('/')) {
      diagnostics.push(
        diagnosticAt(
          source,
          at,
          'info',
          'upstream_plugin',
          `"${name}" is an upstream plugin name, not a Flowyard plugin (owner/name); the step types Flowyard has are built in`,
        ),
      );
      continue;
    }
    const severity = unknownTypes || usedPlugins.has(name) ? 'error' : 'warning';
    const install = `install ${name}@${range === '*' ? 'latest' : range}`;
    const message = invalidRange
      ? `"${range}" is not a semver range (e.g. ^1.2.0, ~1.2, >=1.0.0 <2, 1.2.3)`
      : installed.length
        ? `no installed version of plugin ${name} is in the range "${range}" (installed: ${installed.join(', ')}); ${install}`
        : `plugin ${name} is not installed; ${install}`;
    diagnostics.push(diagnosticAt(source, at, severity, invalidRange ? 'invalid_version_range' : 'plugin_not_installed', message));
  }
  const requiredAt = new Map(resolution.chosen.flatMap((c) => (c.requirement ? [[c.plugin.name, c.requirement.index] as const] : [])));
  for (const { plugin, type } of language.shadowed) {
    const index = requiredAt.get(plugin);
    if (index === undefined) continue;
    diagnostics.push(
      diagnosticAt(
        source,
        entryPath(index),
        'error',
        'plugin_shadows_builtin',
        `plugin ${plugin} declares ${type}, a built-in step type; a plugin may not replace one`,
      ),
    );
  }
  for (const { type, kept, dropped } of language.conflicts) {
    const index = requiredAt.get(dropped);
    if (index === undefined || !requiredAt.has(kept)) continue;
    diagnostics.push(
      diagnosticAt(source, entryPath(index), 'error', 'plugin_conflict', `plugins ${kept} and ${dropped} both declare ${type}; require only one of them`),
    );
  }
  return diagnostics;
}
