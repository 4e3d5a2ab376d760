/**
 * `flowyard backup` and `flowyard restore` (docs/operations.md). A backup is a consistent snapshot of the
 * database taken with `VACUUM INTO` (safe while the server runs and writes: it reads inside one transaction),
 * plus what else the data folder holds that the database needs: the built-in store's artifacts, `secret.key`
 * (without it stored secrets cannot be decrypted) and the embedded runner's `runner.json`. Artifacts in an
 * S3 store are not copied; the manifest names the bucket instead. Everything written is mode 0600.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { createClient } from '@libsql/client';
import { databaseFilePath } from '../../db/client.ts';
import { CorruptBackupError, readTar, TarWriter } from './backup-archive.ts';

export { CorruptBackupError };

const MANIFEST_ENTRY = 'flowyard-backup.json';
const FORMAT = 'flowyard-backup';
const FORMAT_VERSION = 1;
/** Written by `flowyard serve` while it runs; restore refuses a data folder whose server is alive. */
export const PID_FILE = 'flowyard.pid';
/** Where things go in the data folder; `database` is the database file's own path (DATABASE_URL may put it elsewhere). */
const DATA_FILES = ['secret.key', 'runner.json'];
const ARTIFACTS_DIR = 'artifacts';

interface ManifestFile {
  entry: string;
  /** `database`, or a path relative to the data folder: `secret.key`, `runner.json`, `artifacts/...`. */
  path: string;
  size: number;
  sha256: string;
}

interface Manifest {
  format: typeof FORMAT;
  version: number;
  createdAt: string;
  files: ManifestFile[];
  /** What the backup does not hold, in words, e.g. artifacts kept in S3. */
  notIncluded: string[];
}

export interface BackupSource {
  dataDir: string;
  databaseUrl: string;
  /** ARTIFACTS_URL when artifacts live in S3: named in the backup, not copied. */
  artifactsUrl?: string;
  /** FLOWYARD_SECRET_KEY set: the key is not in the data folder, so not in the backup. */
  secretKeyFromEnvironment?: boolean;
}

export interface BackupSummary {
  file: string;
  databaseBytes: number;
  artifacts: number;
  artifactBytes: number;
  notIncluded: string[];
}

function localDatabase(url: string, what: string): string {
  const path = databaseFilePath(url);
  if (!path) throw new Error(`${what} works on a local database file; DATABASE_URL is ${url.replace(/\/\/[^@/]*@/, '//***@')}: use its provider's backups`);
  return path;
}

async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Writes a backup of `source` to `file` (replaced atomically when it exists). */
export async function createBackup(source: BackupSource, file: string): Promise<BackupSummary> {
  const databasePath = localDatabase(source.databaseUrl, 'flowyard backup');
  if (!existsSync(databasePath)) throw new Error(`no database at ${databasePath}: is --data (or DATABASE_URL) right?`);
  if (!existsSync(dirname(file))) throw new Error(`cannot write the backup ${file}: the folder ${dirname(file)} does not exist`);
  if (existsSync(file) && (await stat(file)).isDirectory()) throw new Error(`cannot write the backup ${file}: it is a folder; name a file`);
  const work = await mkdtemp(join(dirname(file), `.${basename(file)}.tmp-`));
  try {
    const snapshot = join(work, 'flowyard.db');
    const client = createClient({ url: `file:${databasePath}`, timeout: 5000 });
    try {
      await client.execute({ sql: 'VACUUM INTO ?', args: [snapshot] });
    } finally {
      client.close();
    }
    await chmod(snapshot, 0o600);
    const sources: Array<{ path: string; from: string }> = [{ path: 'database', from: snapshot }];
    for (const name of DATA_FILES) if (existsSync(join(source.dataDir, name))) sources.push({ path: name, from: join(source.dataDir, name) });
    const notIncluded: string[] = [];
    if (source.artifactsUrl) notIncluded.push(`artifacts in ${source.artifactsUrl.split('?')[0]} (back up the bucket with the store's own tools)`);
    else
      for (const from of await filesUnder(join(source.dataDir, ARTIFACTS_DIR)))
        sources.push({ path: relative(source.dataDir, from).split(sep).join('/'), from });
    if (source.secretKeyFromEnvironment) notIncluded.push('the server secret (FLOWYARD_SECRET_KEY is set in the environment; keep it with the backup)');

    const files: ManifestFile[] = [];
    for (const [index, item] of sources.entries()) {
      files.push({ entry: `files/${index}`, path: item.path, size: (await stat(item.from)).size, sha256: await sha256Of(item.from) });
    }
    const manifest: Manifest = { format: FORMAT, version: FORMAT_VERSION, createdAt: new Date().toISOString(), files, notIncluded };
    const partial = join(work, 'backup.tar.gz');
    const gzip = createGzip();
    const written = pipeline(gzip, createWriteStream(partial, { mode: 0o600 }));
    const tar = new TarWriter(gzip);
    const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2));
    await tar.add(
      MANIFEST_ENTRY,
      manifestBytes.length,
      (async function* () {
        yield manifestBytes;
      })(),
    );
    for (const [index, item] of sources.entries()) await tar.add(files[index]!.entry, files[index]!.size, createReadStream(item.from));
    await tar.finish();
    await written;
    await rename(partial, file);
    await chmod(file, 0o600);
    const artifacts = files.filter((f) => f.path.startsWith(`${ARTIFACTS_DIR}/`));
    return {
      file,
      databaseBytes: files[0]!.size,
      artifacts: artifacts.length,
      artifactBytes: artifacts.reduce((sum, f) => sum + f.size, 0),
      notIncluded,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The pid of a live `flowyard serve` on this data folder, or undefined (no pid file, or its process is gone). */
export async function runningServerPid(dataDir: string): Promise<number | undefined> {
  const text = await readFile(join(dataDir, PID_FILE), 'utf8').catch(() => undefined);
  const pid = Number(text?.trim());
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else; it is alive all the same.
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

/** Marks the data folder as served by this process until `remove` (or the process ends and a later check finds it gone). */
export async function writePidFile(dataDir: string): Promise<{ remove(): Promise<void> }> {
  const path = join(dataDir, PID_FILE);
  await writeFile(path, `${process.pid}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  return { remove: () => unlink(path).catch(() => undefined) };
}

function checkManifest(value: unknown): Manifest {
  const m = value as Partial<Manifest> | null;
  if (!m || m.format !== FORMAT || !Array.isArray(m.files)) throw new CorruptBackupError('its manifest is not a Flowyard backup manifest');
  if (m.version !== FORMAT_VERSION) throw new CorruptBackupError(`it is format version ${String(m.version)}; this Flowyard reads version ${FORMAT_VERSION}`);
  for (const f of m.files) {
    const safe =
      typeof f?.path === 'string' &&
      (f.path === 'database' ||
        DATA_FILES.includes(f.path) ||
        (f.path.startsWith(`${ARTIFACTS_DIR}/`) && !f.path.split('/').some((p) => p === '..' || p === '' || p === '.'))) &&
      !f.path.includes('\\') &&
      !f.path.includes('\0');
    if (!safe || typeof f.entry !== 'string' || !Number.isSafeInteger(f.size) || !/^[0-9a-f]{64}$/.test(String(f.sha256))) {
      throw new CorruptBackupError(`its manifest lists a file it may not restore: ${JSON.stringify(f?.path)}`);
    }
  }
  if (!m.files.some((f) => f.path === 'database')) throw new CorruptBackupError('it holds no database');
  return m as Manifest;
}

export interface RestoreTarget {
  dataDir: string;
  databaseUrl: string;
  /** Replace an existing database and artifacts (the server must still be stopped). */
  force?: boolean;
}

export interface RestoreSummary {
  databasePath: string;
  artifacts: number;
  notIncluded: string[];
}

/** Unpacks into a staging folder of the data folder, checks sizes, digests and the database, then moves everything into place. */
export async function restoreBackup(file: string, target: RestoreTarget): Promise<RestoreSummary> {
  const databasePath = localDatabase(target.databaseUrl, 'flowyard restore');
  const pid = await runningServerPid(target.dataDir);
  if (pid !== undefined) throw new Error(`a Flowyard server (pid ${pid}) is running on ${target.dataDir}: stop it before restoring`);
  if (existsSync(databasePath) && (await stat(databasePath)).size > 0 && !target.force) {
    throw new Error(`${databasePath} already holds a database: restore into a new --data folder, or pass --force to replace it`);
  }
  const fileStat = await stat(file).catch(() => undefined);
  if (!fileStat) throw new Error(`no backup file at ${file}`);
  if (!fileStat.isFile()) throw new Error(`${file} is not a file`);
  await mkdir(target.dataDir, { recursive: true, mode: 0o700 });
  const staging = await mkdtemp(join(target.dataDir, '.restore-'));
  try {
    const manifest = await unpack(file, staging);
    await checkDatabase(join(staging, 'database'));
    await moveIntoPlace(staging, manifest, target.dataDir, databasePath);
    return { databasePath, artifacts: manifest.files.filter((f) => f.path.startsWith(`${ARTIFACTS_DIR}/`)).length, notIncluded: manifest.notIncluded ?? [] };
  } catch (error) {
    if (error instanceof CorruptBackupError) throw new CorruptBackupError(`${file} is not a usable Flowyard backup: ${error.message}`);
    throw error;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function unpack(file: string, staging: string): Promise<Manifest> {
  const input = createReadStream(file).pipe(createGunzip());
  try {
    let manifest: Manifest | undefined;
    const seen = new Set<string>();
    for await (const entry of readTar(input)) {
      if (!manifest) {
        if (entry.name !== MANIFEST_ENTRY || entry.size > 16 * 1024 * 1024) throw new CorruptBackupError(`it does not start with ${MANIFEST_ENTRY}`);
        const chunks: Buffer[] = [];
        for await (const chunk of entry.bytes) chunks.push(chunk);
        try {
          manifest = checkManifest(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (error) {
          if (error instanceof CorruptBackupError) throw error;
          throw new CorruptBackupError(`its manifest is not valid JSON`);
        }
        continue;
      }
      const index = manifest.files.findIndex((f) => f.entry === entry.name);
      const expected = manifest.files[index];
      if (!expected || seen.has(entry.name)) throw new CorruptBackupError(`it holds an entry its manifest does not list: ${entry.name}`);
      seen.add(entry.name);
      const hash = createHash('sha256');
      const out = join(staging, `file-${index}`);
      await pipeline(
        entry.bytes,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hash.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(out, { mode: 0o600 }),
      );
      if (entry.size !== expected.size || hash.digest('hex') !== expected.sha256)
        throw new CorruptBackupError(`${expected.path} does not match its recorded size and SHA-256`);
    }
    if (!manifest) throw new CorruptBackupError('it is empty');
    const missing = manifest.files.filter((f) => !seen.has(f.entry)).map((f) => f.path);
    if (missing.length > 0) throw new CorruptBackupError(`it lacks ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''} (truncated?)`);
    await rename(join(staging, `file-${manifest.files.findIndex((f) => f.path === 'database')}`), join(staging, 'database'));
    return manifest;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('Z_')) throw new CorruptBackupError(`it is not gzip data or it is damaged (${(error as Error).message})`);
    throw error;
  } finally {
    input.destroy();
  }
}

async function checkDatabase(path: string): Promise<void> {
  const client = createClient({ url: `file:${path}` });
  try {
    const result = await client.execute('PRAGMA integrity_check');
    const verdict = String(result.rows[0]?.[0] ?? '');
    if (verdict !== 'ok') throw new CorruptBackupError(`its database fails SQLite's integrity check: ${verdict.slice(0, 200)}`);
  } catch (error) {
    if (error instanceof CorruptBackupError) throw error;
    throw new CorruptBackupError(`its database cannot be opened: ${(error as Error).message}`);
  } finally {
    client.close();
  }
}

async function moveIntoPlace(staging: string, manifest: Manifest, dataDir: string, databasePath: string): Promise<void> {
  await mkdir(dirname(databasePath), { recursive: true, mode: 0o700 });
  for (const suffix of ['-wal', '-shm']) await rm(`${databasePath}${suffix}`, { force: true });
  await rename(join(staging, 'database'), databasePath);
  await chmod(databasePath, 0o600);
  const artifactsDir = join(dataDir, ARTIFACTS_DIR);
  if (manifest.files.some((f) => f.path.startsWith(`${ARTIFACTS_DIR}/`)) && existsSync(artifactsDir)) await rm(artifactsDir, { recursive: true, force: true });
  for (const [index, f] of manifest.files.entries()) {
    if (f.path === 'database') continue;
    const destination = join(dataDir, ...f.path.split('/'));
    await mkdir(dirname(destination), { recursive: true, mode: 0o700 });
    if ((await lstat(destination).catch(() => undefined))?.isSymbolicLink()) await unlink(destination);
    await rename(join(staging, `file-${index}`), destination);
    await chmod(destination, 0o600);
  }
}
