import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.ts';
import { createBackup, restoreBackup } from '../services/backup.ts';

const MiB = 1024 * 1024;
const size = (bytes: number) => (bytes >= MiB ? `${(bytes / MiB).toFixed(1)} MiB` : `${bytes} bytes`);

/** `flowyard backup FILE [--data DIR]`: a consistent snapshot while the server runs (docs/operations.md). */
export async function runBackup(args: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { data: { type: 'string' } } });
  if (positionals.length !== 1) {
    process.stderr.write('usage: flowyard backup FILE [--data ./data]\n');
    return 2;
  }
  const config = loadConfig(env, values);
  try {
    const summary = await createBackup(
      { dataDir: config.dataDir, databaseUrl: config.databaseUrl, artifactsUrl: config.artifactsUrl, secretKeyFromEnvironment: config.secretKey !== undefined },
      resolve(positionals[0]!),
    );
    process.stdout.write(
      `flowyard backup: wrote ${summary.file} (database ${size(summary.databaseBytes)}, ${summary.artifacts} artifact file(s), ${size(summary.artifactBytes)})\n`,
    );
    for (const missing of summary.notIncluded) process.stdout.write(`flowyard backup: not included: ${missing}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`flowyard backup: ${(error as Error).message}\n`);
    return 1;
  }
}

/** `flowyard restore FILE [--data DIR] [--force]`: into a stopped server's data folder, a new one unless --force. */
export async function runRestore(args: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: { data: { type: 'string' }, force: { type: 'boolean', default: false } },
  });
  if (positionals.length !== 1) {
    process.stderr.write('usage: flowyard restore FILE [--data ./data] [--force]\n');
    return 2;
  }
  const config = loadConfig(env, { data: values.data });
  try {
    const summary = await restoreBackup(resolve(positionals[0]!), { dataDir: config.dataDir, databaseUrl: config.databaseUrl, force: values.force });
    process.stdout.write(`flowyard restore: restored the database to ${summary.databasePath} and ${summary.artifacts} artifact file(s) to ${config.dataDir}\n`);
    for (const missing of summary.notIncluded) process.stdout.write(`flowyard restore: the backup did not include ${missing}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`flowyard restore: ${(error as Error).message}\n`);
    return 1;
  }
}
