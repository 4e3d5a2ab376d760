import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

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
