/**
 * The registry layout, shared by the client (remote registries) and this Flowyard's own `/registry`:
 *   {base}/index.json                                         the index below
 *   {base}/plugins/{owner}/{name}/{version}/plugin.yaml       the manifest as written
 *   {base}/plugins/{owner}/{name}/{version}/plugin.tar.gz     the archive; its sha256 is the index's digest
 * Plain static files in a bucket serve it as well as a Flowyard does.
 */
import { z } from 'zod';
import { pluginStatuses } from '../../../db/schema.ts';
import { pluginName, semverText } from '../../engine/plugin-manifest.ts';

export const digestText = z.string().regex(/^sha256:[0-9a-f]{64}$/, { message: 'expected sha256:<64 hex digits>' });

export const registryIndexSchema = z.object({
  plugins: z
    .array(
      z.object({
        name: pluginName,
        description: z.string().max(2000),
        status: z.enum(pluginStatuses),
        /** Optional: the step types of the newest version, so a search by step type needs no manifest. */
        stepTypes: z.array(z.string().max(100)).max(100).optional(),
        /** Optional, likewise: the deploy providers of the newest version. */
        deployProviders: z.array(z.string().max(100)).max(100).optional(),
        versions: z.array(z.object({ version: semverText, digest: digestText, flowyard: z.string().max(200) })).max(1000),
      }),
    )
    .max(5000),
});

export type RegistryIndex = z.output<typeof registryIndexSchema>;
export type RegistryEntry = RegistryIndex['plugins'][number];

/** The registry's base URL without its trailing slashes. */
export const registryBase = (url: string) => url.replace(/\/+$/, '');

export const registryFileUrl = (base: string, name: string, version: string, file: 'plugin.yaml' | 'plugin.tar.gz') =>
  `${registryBase(base)}/plugins/${name}/${encodeURIComponent(version)}/${file}`;
