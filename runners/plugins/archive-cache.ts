/**
 * Plugin archives on a runner: fetched once per digest from the API (the typed client's pluginArchive call),
 * checked against the digest the run pinned, unpacked under `<data dir>/plugins/<hex>` and kept there.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { pluginManifestSchema, type PluginManifest } from '../../server/engine/plugin-manifest.ts';
import type { PluginStepRef } from '../protocol/v1.ts';
import { readArchive } from './untar.ts';

/** Where archives come from: the runner's API client in the daemon, a local folder of archives in tests. */
export type PluginArchiveSource = (request: { name: string; version: string }) => Promise<{ digest: string; archiveBase64: string }>;

export interface UnpackedPlugin {
  dir: string;
  manifest: PluginManifest;
}

const hexOf = (digest: string) => {
  const match = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!match) throw new Error(`plugin digest ${digest} is not sha256:<64 hex digits>`);
  return match[1]!;
};

export class PluginArchiveCache {
  private readonly unpacking = new Map<string, Promise<UnpackedPlugin>>();

  constructor(
    private readonly dir: string,
    private readonly source: PluginArchiveSource | undefined,
  ) {}

  /** The unpacked plugin version a step pins, fetched and checked on first use. */
  get(ref: PluginStepRef): Promise<UnpackedPlugin> {
    const hex = hexOf(ref.digest);
    let pending = this.unpacking.get(hex);
    if (!pending) {
      pending = this.load(ref, hex);
      this.unpacking.set(hex, pending);
      pending.catch(() => this.unpacking.delete(hex));
    }
    return pending;
  }

  private async load(ref: PluginStepRef, hex: string): Promise<UnpackedPlugin> {
    const dir = join(this.dir, hex);
    const exists = await stat(join(dir, 'plugin.yaml')).then(
      () => true,
      () => false,
    );
    if (!exists) await this.fetchInto(ref, dir);
    return { dir, manifest: await readManifest(dir, ref) };
  }

  private async fetchInto(ref: PluginStepRef, dir: string): Promise<void> {
    if (!this.source) throw new Error(`plugin ${ref.name}@${ref.version} is not on this runner and it has no API to fetch plugin archives from`);
    const answer = await this.source({ name: ref.name, version: ref.version });
    const bytes = Buffer.from(answer.archiveBase64, 'base64');
    const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (actual !== ref.digest) {
      throw new Error(`the archive of plugin ${ref.name}@${ref.version} has digest ${actual}, but the run pinned ${ref.digest}: not running it`);
    }
    // Unpacked beside its final place and renamed into it, so a half-written folder is never used.
    const staging = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
    try {
      for (const entry of readArchive(bytes)) {
        const path = join(staging, entry.path);
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, entry.content);
        await chmod(path, entry.mode);
      }
      await rename(staging, dir).catch(async (error: NodeJS.ErrnoException) => {
        // Another job unpacked the same digest meanwhile: the same bytes, so theirs will do.
        if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
      });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }
}

async function readManifest(dir: string, ref: PluginStepRef): Promise<PluginManifest> {
  let text: string;
  try {
    text = await readFile(join(dir, 'plugin.yaml'), 'utf8');
  } catch {
    throw new Error(`plugin ${ref.name}@${ref.version}: its archive has no plugin.yaml at its root`);
  }
  const parsed = pluginManifestSchema.safeParse(parse(text));
  if (!parsed.success)
    throw new Error(`plugin ${ref.name}@${ref.version}: plugin.yaml does not match the manifest contract: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}
