/**
 * Node only: Flowyard's own npm package (`npm pack` of this installation, with what package.json `files`
 * lists), built once per process at first need, so runners install from the server they work for.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { tarballName } from './runner-install.ts';

const run = promisify(execFile);
const PACK_TIMEOUT_MS = 120_000;
export const packageRoot = resolve(import.meta.dirname, '../..');

let version: Promise<string> | undefined;
export function packageVersion(): Promise<string> {
  version ??= readFile(join(packageRoot, 'package.json'), 'utf8').then((text) => String((JSON.parse(text) as { version: string }).version));
  return version;
}

async function pack(): Promise<string> {
  // One folder per installation, so servers of different checkouts on one host do not serve each other's code.
  const dir = join(tmpdir(), 'flowyard-downloads', createHash('sha256').update(packageRoot).digest('hex').slice(0, 16));
  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(join(dir, 'pack-'));
  try {
    await run('npm', ['pack', '--silent', '--pack-destination', work], { cwd: packageRoot, timeout: PACK_TIMEOUT_MS }).catch(
      (error: NodeJS.ErrnoException & { stderr?: string }) => {
        const reason = error.code === 'ENOENT' ? 'npm is not installed on the server' : (error.stderr?.trim().split('\n').at(-1) ?? error.message);
        throw new Error(`could not build the runner package: ${reason}`);
      },
    );
    const name = tarballName(await packageVersion());
    const target = join(dir, name);
    // A rename replaces the file atomically, also while another process is sending the previous one.
    await rename(join(work, name), target);
    return target;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

let packing: Promise<string> | undefined;

/** Path of the package tarball; packs at the first call of this process, again after a failure. */
export function packageTarball(): Promise<string> {
  packing ??= pack().catch((error: unknown) => {
    packing = undefined;
    throw error;
  });
  return packing;
}

export async function packageTarballBytes(): Promise<Uint8Array<ArrayBuffer>> {
  const bytes = await readFile(await packageTarball());
  return new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
}
