/**
 * Builds the example plugins under examples/plugins/ so they can be packed and run:
 *   http-check  its image, from its Dockerfile on the local engine (FROM flowyard/busybox, nothing pulled);
 *   kv          its service bundled with grpc-js into dist/server.cjs (+ the .proto files in dist/proto), so
 *               the archive the runner unpacks is self-contained;
 *   deploy-*    the cloud deploy provider plugins: provider.ts bundled the same way into dist/provider.cjs.
 * Then packs each folder into a plugin archive. `tsx scripts/build-example-plugins.ts` prints the digests.
 */
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import Docker from 'dockerode';
import { build } from 'esbuild';
import { parse } from 'yaml';
import { pluginManifestSchema, type PluginManifest } from '../server/engine/plugin-manifest.ts';
import { archiveDigest } from '../server/services/plugins/archive.ts';
import { packFolder } from '../server/services/plugins/pack-folder.ts';
import { tarArchive } from '../runners/scan/tar.ts';

export const EXAMPLE_PLUGINS_DIR = resolve(import.meta.dirname, '../examples/plugins');
export const HTTP_CHECK_IMAGE = 'flowyard-examples/http-check:0.1.0';

export interface PackedPlugin {
  folder: string;
  manifest: PluginManifest;
  archive: Buffer;
  digest: string;
}

/** Builds the http-check image from examples/plugins/http-check/Dockerfile. */
export async function buildHttpCheckImage(docker = new Docker()): Promise<string> {
  const folder = join(EXAMPLE_PLUGINS_DIR, 'http-check');
  const context = tarArchive([
    { type: 'file', name: 'Dockerfile', mode: 0o644, hostFile: join(folder, 'Dockerfile') },
    { type: 'file', name: 'check.sh', mode: 0o755, hostFile: join(folder, 'check.sh') },
  ]);
  const stream = await docker.buildImage(context, { t: HTTP_CHECK_IMAGE });
  const events = await new Promise<Array<{ error?: string; stream?: string }>>((done, fail) =>
    docker.modem.followProgress(stream, (error, output) => (error ? fail(error) : done(output as Array<{ error?: string }>))),
  );
  const failure = events.find((event) => event.error);
  if (failure) throw new Error(`building ${HTTP_CHECK_IMAGE} failed: ${failure.error}`);
  return HTTP_CHECK_IMAGE;
}

/** Bundles a plugin's Node entry point and its dependencies into one file in dist/, with the .proto files it loads. */
async function bundlePlugin(folder: string, entry: string, outfile: string, protos: Array<[string, string]>): Promise<void> {
  const dist = join(folder, 'dist');
  await build({
    entryPoints: [join(folder, entry)],
    outfile: join(dist, outfile),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'error',
    legalComments: 'none',
  });
  for (const [from, to] of protos) {
    await mkdir(join(dist, 'proto', to, '..'), { recursive: true });
    await copyFile(from, join(dist, 'proto', to));
  }
}

const FLOWYARD_PROTO = (file: string): [string, string] => [
  resolve(import.meta.dirname, `../runners/plugins/proto/flowyard/plugin/v1/${file}`),
  `flowyard/plugin/v1/${file}`,
];

/** Bundles examples/plugins/kv/server.ts and its dependencies into dist/server.cjs, with its .proto files. */
export async function bundleKvServer(): Promise<void> {
  const folder = join(EXAMPLE_PLUGINS_DIR, 'kv');
  await bundlePlugin(folder, 'server.ts', 'server.cjs', [FLOWYARD_PROTO('step.proto'), [join(folder, 'proto/kv.proto'), 'kv.proto']]);
}

/** The cloud deploy provider plugins (experimental until the validation matrix runs them against a real account). */
export const DEPLOY_PLUGINS = ['deploy-digitalocean', 'deploy-aws-ecs', 'deploy-gcp-cloud-run', 'deploy-azure-container-apps'] as const;
export type DeployPluginFolder = (typeof DEPLOY_PLUGINS)[number];

/** Bundles a deploy provider plugin's provider.ts into dist/provider.cjs, with deploy.proto. */
export async function bundleDeployPlugin(name: DeployPluginFolder): Promise<void> {
  await bundlePlugin(join(EXAMPLE_PLUGINS_DIR, name), 'provider.ts', 'provider.cjs', [FLOWYARD_PROTO('deploy.proto')]);
}

/** Builds and packs one deploy provider plugin. */
export async function buildDeployPlugin(name: DeployPluginFolder): Promise<PackedPlugin> {
  await bundleDeployPlugin(name);
  return packExamplePlugin(name);
}

/** Packs an example plugin folder (after its build) into an archive, as `flowyard plugin pack` does. */
export async function packExamplePlugin(name: 'http-check' | 'kv' | DeployPluginFolder): Promise<PackedPlugin> {
  const folder = join(EXAMPLE_PLUGINS_DIR, name);
  const manifest = pluginManifestSchema.parse(parse(await readFile(join(folder, 'plugin.yaml'), 'utf8')));
  const archive = await packFolder(folder);
  return { folder, manifest, archive, digest: archiveDigest(archive) };
}

/** Builds and packs both examples. */
export async function buildExamplePlugins(docker = new Docker()): Promise<Record<'http-check' | 'kv', PackedPlugin>> {
  await Promise.all([buildHttpCheckImage(docker), bundleKvServer()]);
  return { 'http-check': await packExamplePlugin('http-check'), kv: await packExamplePlugin('kv') };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const built: Record<string, PackedPlugin> = await buildExamplePlugins();
  for (const name of DEPLOY_PLUGINS) built[name] = await buildDeployPlugin(name);
  for (const plugin of Object.values(built)) {
    console.log(`${plugin.manifest.name}@${plugin.manifest.version} ${plugin.digest} (${plugin.archive.length} bytes)`);
  }
}
