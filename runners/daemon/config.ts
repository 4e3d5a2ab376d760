import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RunnerPolicy } from '../docker/policy.ts';

export interface RunnerConfig {
  url: string;
  runnerId: string;
  token: string;
  name: string;
  labels: string[];
  capacity: number;
}

export async function loadRunnerConfig(path: string): Promise<RunnerConfig | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as RunnerConfig;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read runner config ${path}: ${(error as Error).message}`);
  }
}

/** The runner token is a credential: the file is readable by its owner only. */
export async function saveRunnerConfig(path: string, config: RunnerConfig): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
}

/** The `--allow-*` flags of `flowyard runner`, for parseArgs. */
export const POLICY_FLAGS = {
  'allow-host-network': { type: 'boolean', default: false },
  'allow-docker-host': { type: 'string', multiple: true, default: [] as string[] },
  'allow-bind-mounts': { type: 'boolean', default: false },
  'allow-egress': { type: 'boolean', default: false },
} as const;

/** The runner's policy from its --allow-* flags; a docker host that is not a unix:// or tcp:// URL is refused. */
export function policyFromFlags(values: { 'allow-host-network'?: boolean; 'allow-docker-host'?: string[]; 'allow-bind-mounts'?: boolean; 'allow-egress'?: boolean }): RunnerPolicy {
  const dockerHosts = values['allow-docker-host'] ?? [];
  for (const host of dockerHosts) {
    if (!/^(unix|tcp):\/\/\S+$/.test(host)) throw new Error(`--allow-docker-host: "${host}" is not a unix:// or tcp:// URL`);
  }
  return {
    allowHostNetwork: values['allow-host-network'] ?? false,
    allowDockerHosts: dockerHosts,
    allowBindMounts: values['allow-bind-mounts'] ?? false,
    allowEgress: values['allow-egress'] ?? false,
  };
}
