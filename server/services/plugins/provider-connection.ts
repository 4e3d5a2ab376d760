/**
 * The connection test of an environment whose provider comes from a plugin (the cloud providers). The server never
 * calls the cloud itself: a deploy runs the plugin on a runner, with the environment's secrets. What the server can
 * tell is which plugin provides the name, whether it is installed, and how its validation against this environment
 * went (when this environment is the one attached to it).
 */
import { desc, eq } from 'drizzle-orm';
import type { Db } from '../../../db/client.ts';
import { pluginValidations } from '../../../db/schema.ts';
import { cloudProviderPlugins } from '../../engine/schema/modules.ts';
import { installedPlugins } from './installed.ts';

export interface ConnectionResult {
  ok: boolean;
  message: string;
}

/** Whether an environment's provider is served by a plugin (rather than tested by the server itself). */
export const isPluginProvider = (provider: string): boolean => Object.hasOwn(cloudProviderPlugins, provider);

export async function pluginProviderConnection(db: Db, environment: { id: string; provider: string }): Promise<ConnectionResult> {
  const { provider } = environment;
  const records = (await installedPlugins(db)).filter((record) => record.versions.length > 0);
  const providing = records.find((record) => record.versions[0]!.manifest.deploy_providers?.some((p) => p.name === provider));
  const expected = (cloudProviderPlugins as Record<string, string>)[provider];
  if (!providing) {
    const stale = records.find((record) => record.name === expected);
    return {
      ok: false,
      message: stale
        ? `deploy provider ${provider} comes from the plugin ${expected}, but its installed version ${stale.versions[0]!.version} declares no deploy provider ${provider}: upgrade it from the Marketplace`
        : `deploy provider ${provider} comes from the plugin ${expected}, which is not installed: install it from the Marketplace`,
    };
  }
  const newest = providing.versions[0]!;
  const installed = `deploy provider ${provider} comes from the plugin ${providing.name} ${newest.version} (${providing.status}), which is installed`;
  const onRunner = `the server does not call the provider: a deploy runs the plugin on a runner, with this environment's secrets`;
  if (providing.validationEnvironmentId !== environment.id) {
    return {
      ok: true,
      message: `${installed}; ${onRunner}. Attach this environment to ${providing.name} on its Marketplace page and validate to check these credentials`,
    };
  }
  const [last] = await db
    .select({ version: pluginValidations.version, result: pluginValidations.result, runId: pluginValidations.runId, detail: pluginValidations.detail })
    .from(pluginValidations)
    .where(eq(pluginValidations.pluginName, providing.name))
    .orderBy(desc(pluginValidations.createdAt))
    .limit(1);
  if (!last) return { ok: true, message: `${installed}; ${onRunner}. This environment is its validation environment; no validation has run yet` };
  const run = last.runId ? ` (run ${last.runId})` : '';
  const outcome = `Last validation of ${last.version} with this environment: ${last.result.replace('_', ' ')}${run}${last.detail ? `, ${last.detail}` : ''}`;
  return { ok: last.result !== 'red', message: `${installed}; ${onRunner}. ${outcome}` };
}
