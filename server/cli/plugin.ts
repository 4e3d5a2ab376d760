import { writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ApiError } from '../services/errors.ts';
import { readPackage } from '../services/plugins/package.ts';
import { packFolder } from '../services/plugins/pack-folder.ts';

const USAGE = 'usage: flowyard plugin pack FOLDER [OUT]\n';

/**
 * `flowyard plugin pack FOLDER [OUT]`: the deterministic archive of a plugin folder, checked as an install would
 * check it (layout, plugin.yaml, the minimal example); prints where it went and its digest. OUT defaults to
 * `<owner>-<name>-<version>.tar.gz` in the current folder.
 */
export async function runPlugin(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  const [action, folder, out, ...extra] = positionals;
  if (action !== 'pack' || !folder || extra.length > 0) {
    process.stderr.write(USAGE);
    return 2;
  }
  try {
    const archive = await packFolder(resolve(folder));
    const { manifest, digest } = await readPackage(archive);
    const target = resolve(out ?? `${manifest.name.replace('/', '-')}-${manifest.version}.tar.gz`);
    await writeFile(target, archive);
    process.stdout.write(`flowyard plugin: packed ${manifest.name}@${manifest.version} into ${basename(target)} (${archive.length} bytes, ${digest})\n`);
    return 0;
  } catch (error) {
    if (error instanceof ApiError) {
      process.stderr.write(`flowyard plugin: ${error.message}\n`);
      return 1;
    }
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      process.stderr.write(`flowyard plugin: no folder at ${folder}\n`);
      return 1;
    }
    throw error;
  }
}
