/**
 * A plugin package as Flowyard checks it: `plugin.yaml` parsed against the manifest contract, with every
 * problem named by file, line, column and field, and the minimal example the validation matrix runs.
 */
import { diagnosticAt } from '../../engine/locate.ts';
import { MINIMAL_EXAMPLE_PATH, pluginManifestSchema, type PluginManifest } from '../../engine/plugin-manifest.ts';
import { parseSource } from '../../engine/source.ts';
import type { PathSegment } from '../../engine/diagnostics.ts';
import { ApiError } from '../errors.ts';
import { archiveDigest, readArchive, type ArchiveFiles } from './archive.ts';

export const MANIFEST_FILE = 'plugin.yaml';

/** One problem in a plugin package. */
export interface PackageProblem {
  file: string;
  line: number;
  column: number;
  /** Dotted path of the field, empty for the whole file. */
  field: string;
  message: string;
}

export interface PluginPackage {
  manifest: PluginManifest;
  /** The plugin.yaml text as the author wrote it (registries serve it). */
  manifestText: string;
  minimalExample: string;
  digest: string;
  archive: Buffer;
}

const render = (problem: PackageProblem) => `${problem.file}:${problem.line}:${problem.column}: ${problem.field ? `${problem.field}: ` : ''}${problem.message}`;

/** A 422 whose message lists every problem as `file:line:column: field: message`, also given one by one in `problems`. */
export function invalidPackage(problems: PackageProblem[]): ApiError {
  return new ApiError(422, 'invalid_plugin', `the plugin package is invalid: ${problems.map(render).join('; ')}`, { problems });
}

type Issue = { code: string; path: PropertyKey[]; message: string; keys?: string[] };

/** plugin.yaml text → the manifest, or the problems with their positions. */
export function parseManifest(text: string, file = MANIFEST_FILE): { ok: true; manifest: PluginManifest } | { ok: false; problems: PackageProblem[] } {
  const parsed = parseSource(text);
  if (!parsed.ok) {
    return { ok: false, problems: parsed.diagnostics.map((d) => ({ file, line: d.line, column: d.column, field: d.path, message: d.message })) };
  }
  const result = pluginManifestSchema.safeParse(parsed.source.value);
  if (result.success) return { ok: true, manifest: result.data };
  const problems = (result.error.issues as unknown as Issue[]).flatMap((issue) => {
    const path = issue.path.filter((segment): segment is PathSegment => typeof segment !== 'symbol');
    const at = (segments: PathSegment[], message: string, anchor: 'key' | 'value') => {
      const d = diagnosticAt(parsed.source, segments, 'error', issue.code, message, anchor);
      return { file, line: d.line, column: d.column, field: d.path, message };
    };
    if (issue.code === 'unrecognized_keys' && issue.keys?.length) return issue.keys.map((key) => at([...path, key], `unknown field "${key}"`, 'key'));
    const missing = /received undefined/.test(issue.message);
    return [at(path, missing ? `required field is missing (${issue.message})` : issue.message, missing ? 'key' : 'value')];
  });
  return { ok: false, problems: problems.sort((a, b) => a.line - b.line || a.column - b.column) };
}

const wholeFile = (file: string, message: string): PackageProblem => ({ file, line: 1, column: 1, field: '', message });

/** Checks the files of a package: a valid plugin.yaml at the root and the minimal example next to it. */
export function checkPackageFiles(files: ArchiveFiles): { manifest: PluginManifest; manifestText: string; minimalExample: string } {
  const manifestBytes = files.get(MANIFEST_FILE);
  if (!manifestBytes) throw invalidPackage([wholeFile(MANIFEST_FILE, 'missing: every plugin has plugin.yaml at the root of its archive')]);
  const manifestText = manifestBytes.toString('utf8');
  const parsed = parseManifest(manifestText);
  const problems = parsed.ok ? [] : parsed.problems;
  const example = files.get(MINIMAL_EXAMPLE_PATH);
  if (!example) problems.push(wholeFile(MINIMAL_EXAMPLE_PATH, 'missing: the smallest workflow that exercises the plugin for real'));
  if (!parsed.ok || problems.length > 0) throw invalidPackage(problems);
  return { manifest: parsed.manifest, manifestText, minimalExample: example!.toString('utf8') };
}

/** Reads and checks an archive: bounded, safe paths, a valid manifest and the minimal example; with its digest. */
export async function readPackage(archive: Buffer): Promise<PluginPackage> {
  const files = await readArchive(archive);
  return { ...checkPackageFiles(files), digest: archiveDigest(archive), archive };
}
