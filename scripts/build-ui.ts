/**
 * Builds the web UI into build/ only when its sources changed since the last build: a SHA-256 over the
 * sources is kept in build/.source-hash. Quiet on success (one line); the bundler's output only on failure.
 * Usage: tsx scripts/build-ui.ts [--force]
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const SOURCES = ['app', 'static', 'svelte.config.js', 'vite.config.ts', 'package-lock.json'];
const STAMP = join('build', '.source-hash');

function filesOf(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

/** One hash over every UI source file's path and content under `root`, in a stable order. */
export function uiSourceHash(root: string): string {
  const hash = createHash('sha256');
  const files = SOURCES.flatMap((source) => filesOf(join(root, source))).sort();
  for (const file of files) hash.update(relative(root, file)).update('\0').update(readFileSync(file)).update('\0');
  return hash.digest('hex');
}

/** True when build/ holds a UI built from exactly these sources. */
export function uiIsCurrent(root: string, hash = uiSourceHash(root)): boolean {
  const stamp = join(root, STAMP);
  return existsSync(join(root, 'build', 'index.html')) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === hash;
}

function viteBuild(root: string): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
    const child = spawn(process.execPath, [vite, 'build', '--logLevel', 'error'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('close', (code) => done({ code, output }));
  });
}

async function main(root: string, force: boolean): Promise<number> {
  const hash = uiSourceHash(root);
  if (!force && uiIsCurrent(root, hash)) return 0;
  const started = Date.now();
  process.stdout.write('building the web UI… ');
  const result = await viteBuild(root);
  if (result.code !== 0) {
    process.stdout.write('failed\n');
    process.stderr.write(result.output);
    return 1;
  }
  writeFileSync(join(root, STAMP), `${hash}\n`);
  process.stdout.write(`done in ${Math.round((Date.now() - started) / 1000)}s\n`);
  return 0;
}

if (import.meta.filename === process.argv[1]) {
  process.exitCode = await main(resolve(import.meta.dirname, '..'), process.argv.includes('--force'));
}
