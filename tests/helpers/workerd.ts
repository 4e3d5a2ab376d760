/**
 * The edge bundle (scripts/build-edge.ts) in workerd through Miniflare, listening on a loopback port, with the
 * bindings wrangler.toml declares: the settings as variables, the two Durable Object classes, the cron trigger.
 */
import { Miniflare } from 'miniflare';
import { readFileSync } from 'node:fs';
import { buildEdge } from '../../scripts/build-edge.ts';
import { freePort } from '../contract/services.ts';

export interface WorkerdServer {
  url: string;
  /** Runs the Worker's cron trigger (the `scheduled` handler) once and waits for it. */
  scheduled(): Promise<void>;
  close(): Promise<void>;
}

const strings = (list: string) => [...list.matchAll(/"([^"]+)"/g)].map((match) => match[1]!);

/** What wrangler.toml deploys, so the test runs the same: compatibility settings, Durable Object bindings, crons. */
export function wranglerSettings() {
  const toml = readFileSync(new URL('../../wrangler.toml', import.meta.url), 'utf8');
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  const flags = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1];
  const crons = /^crons\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1];
  if (!date || flags === undefined || crons === undefined) throw new Error('wrangler.toml lacks compatibility_date, compatibility_flags or triggers.crons');
  const durableObjects = Object.fromEntries(
    [...toml.matchAll(/\[\[durable_objects\.bindings\]\]\s*name\s*=\s*"([^"]+)"\s*class_name\s*=\s*"([^"]+)"/g)].map((match) => [match[1]!, match[2]!]),
  );
  const migratedClasses = [...toml.matchAll(/^new_sqlite_classes\s*=\s*\[([^\]]*)\]/gm)].flatMap((match) => strings(match[1]!));
  return { compatibilityDate: date, compatibilityFlags: strings(flags), crons: strings(crons), durableObjects, migratedClasses };
}

/** Built once per test process, at the first Worker started. */
let bundle: Promise<string> | undefined;

/** `vars` are the Worker's variables for its base URL (FLOWYARD_PUBLIC_URL must name the port it listens on). */
export async function startWorkerd(vars: (baseUrl: string) => Record<string, string>): Promise<WorkerdServer> {
  bundle ??= buildEdge();
  const [scriptPath, port] = await Promise.all([bundle, freePort()]);
  const url = `http://127.0.0.1:${port}`;
  const { compatibilityDate, compatibilityFlags, durableObjects, crons } = wranglerSettings();
  const mf = new Miniflare({
    modules: true,
    scriptPath,
    compatibilityDate,
    compatibilityFlags,
    host: '127.0.0.1',
    port,
    bindings: vars(url),
    durableObjects,
    unsafeTriggerHandlers: true,
  });
  await mf.ready;
  return {
    url,
    async scheduled() {
      const answer = await fetch(`${url}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent(crons[0]!)}`);
      if (!answer.ok) throw new Error(`the cron trigger failed: ${answer.status} ${await answer.text()}`);
    },
    close: () => mf.dispose(),
  };
}
