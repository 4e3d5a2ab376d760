/** Packs a plugin folder on disk (the CLI's `flowyard plugin pack`, tests); Node only. */
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';
import { ApiError } from '../errors.ts';
import { packFiles, type ArchiveFiles } from './archive.ts';

/** Packs a plugin folder: every regular file below it; symbolic links and other special files are refused. */
export async function packFolder(folder: string): Promise<Buffer> {
  const files: ArchiveFiles = new Map();
  const executable = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of (await readdir(dir)).sort()) {
      const path = join(dir, entry);
      const stats = await lstat(path);
      const name = relative(folder, path).split(sep).join(posix.sep);
      if (stats.isDirectory()) await walk(path);
      else if (stats.isFile()) {
        files.set(name, await readFile(path));
        if (stats.mode & 0o111) executable.add(name);
      } else throw new ApiError(422, 'invalid_archive', `plugin folder: ${name} is not a regular file or folder (links are not packed)`);
    }
  };
  await walk(folder);
  return packFiles(files, executable);
}
