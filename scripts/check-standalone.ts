// Fails when a test, script or build file reads outside the repository: a clone in an empty folder must pass.
// It resolves every relative path literal against the file that holds it (module URLs, path joins from the
// file's own folder, `cd` and sources in shell scripts) and flags any that leaves the repository, plus
// absolute paths into the workplace around it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const scanned = ['tests', 'scripts', 'server', 'runners', 'db', 'bin', 'app', '.ci'];
const topLevelFiles = ['package.json', 'vite.config.ts', 'svelte.config.js', 'playwright.config.ts', 'drizzle.config.ts', 'wrangler.toml'];
const extensions = /\.(ts|js|mjs|cjs|sh|json|toml|svelte)$|^run$/;
const skipped = new Set(['node_modules', 'output', 'fixtures', '.svelte-kit', 'build']);

/** Relative path literals that start with ../ — the only way a literal can climb out. */
const relativeLiteral = /['"`]((?:\.\.\/)+[^'"`\s]*)['"`]/g;
/** Absolute paths into the folders around the checkout (the reference material, the library, other repos). */
const outsideAbsolute = /['"`\s](\/work\/(?!main\b)[^'"`\s]*|\/work\/main\/[^'"`\s]*)/g;

export interface OutsideRead {
  file: string;
  line: number;
  text: string;
}

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    if (skipped.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (extensions.test(name)) yield path;
  }
}

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

export function findOutsideReads(file: string, text: string, repoRoot = root): OutsideRead[] {
  const found: OutsideRead[] = [];
  const base = dirname(file);
  for (const match of text.matchAll(relativeLiteral)) {
    const target = resolve(base, match[1]!);
    if (target !== repoRoot && !target.startsWith(repoRoot + sep)) found.push({ file, line: lineOf(text, match.index), text: match[1]! });
  }
  for (const match of text.matchAll(outsideAbsolute)) found.push({ file, line: lineOf(text, match.index), text: match[1]! });
  return found;
}

function main(): void {
  const candidates = [...scanned.flatMap((dir) => [...files(join(root, dir))]), ...topLevelFiles.map((name) => join(root, name))];
  const reads = candidates.flatMap((file) => {
    try {
      return findOutsideReads(file, readFileSync(file, 'utf8'));
    } catch {
      return [];
    }
  });
  for (const read of reads) console.error(`${relative(root, read.file)}:${read.line}: reads outside the repository: ${read.text}`);
  if (reads.length > 0) {
    console.error(`standalone check: ${reads.length} read(s) outside the repository; copy what is needed into the repository instead`);
    process.exit(1);
  }
  console.log(`standalone check: ${candidates.length} files read nothing outside the repository`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
