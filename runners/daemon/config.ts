import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir, hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { readSettings } from '../protocol/settings.ts';
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
export function policyFromFlags(values: {
  'allow-host-network'?: boolean;
  'allow-docker-host'?: string[];
  'allow-bind-mounts'?: boolean;
  'allow-egress'?: boolean;
}): RunnerPolicy {
  const s = readSettings(['allowHostNetwork', 'allowDockerHosts', 'allowBindMounts', 'allowEgress'], {}, values);
  return {
    allowHostNetwork: s.allowHostNetwork ?? false,
    allowDockerHosts: s.allowDockerHosts ?? [],
    allowBindMounts: s.allowBindMounts ?? false,
    allowEgress: s.allowEgress ?? false,
  };
}

export interface RunnerSettings {
  url?: string;
  registrationToken?: string;
  name: string;
  labels: string[];
  capacity: number;
  configPath: string;
  policy: RunnerPolicy;
}

/** The settings of `flowyard runner` from its flags (runners/protocol/settings.ts lists them); a bad value throws a ConfigError naming the flag. */
export function loadRunnerSettings(flags: Record<string, unknown>): RunnerSettings {
  const s = readSettings(['runnerUrl', 'registrationToken', 'runnerName', 'runnerLabels', 'capacity', 'runnerConfig'], {}, flags);
  return {
    url: s.runnerUrl,
    registrationToken: s.registrationToken,
    name: s.runnerName ?? hostname(),
    labels: (s.runnerLabels ?? 'linux,docker')
      .split(',')
      .map((l) => l.trim())
      .filter(Boolean),
    capacity: s.capacity ?? 2,
    configPath: s.runnerConfig ?? join(homedir(), '.flowyard', 'runner.json'),
    policy: policyFromFlags(flags),
  };
}
