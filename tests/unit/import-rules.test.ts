// The import rules (.dependency-cruiser.cjs) fail on a forbidden import and on a cycle, shown on a small tree.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';

const repo = resolve(import.meta.dirname, '../..');
const depcruise = join(repo, 'node_modules/.bin/depcruise');

function cruise(files: Record<string, string>): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'flowyard-imports-'));
  try {
    copyFileSync(join(repo, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { allowImportingTsExtensions: true, noEmit: true, module: 'esnext', moduleResolution: 'bundler' } }),
    );
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    const roots = ['server', 'runners'].filter((root) => Object.keys(files).some((path) => path.startsWith(`${root}/`)));
    const run = spawnSync(depcruise, ['--config', '.dependency-cruiser.cjs', '--output-type', 'err', ...roots], { cwd: dir, encoding: 'utf8' });
    return { status: run.status, output: run.stdout + run.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a tree that keeps the rules passes', () => {
  const result = cruise({
    'server/engine/build.ts': 'export const build = 1;\n',
    'server/services/runs.ts': "import { build } from '../engine/build.ts';\nexport const runs = build;\n",
    'server/api/routes/runs.ts': "import { runs } from '../../services/runs.ts';\nexport const route = runs;\n",
    'runners/job/execute.ts': "import { build } from '../../server/engine/build.ts';\nexport const run = build;\n",
  });
  assert.equal(result.status, 0, result.output);
});

test('a service importing the API, a server file importing the daemon and an impure engine are each refused', () => {
  const result = cruise({
    'server/api/errors.ts': 'export class ApiError extends Error {}\n',
    'server/services/runs.ts': "import { ApiError } from '../api/errors.ts';\nexport const e = ApiError;\n",
    'runners/daemon/daemon.ts': 'export const daemon = 1;\n',
    'server/services/runners.ts': "import { daemon } from '../../runners/daemon/daemon.ts';\nexport const d = daemon;\n",
    'server/engine/build.ts': "import { readFileSync } from 'node:fs';\nexport const read = readFileSync;\n",
  });
  assert.notEqual(result.status, 0);
  for (const rule of ['services-not-api', 'server-not-runner-internals', 'engine-no-node']) assert.match(result.output, new RegExp(rule));
});

test('an import cycle is refused', () => {
  const result = cruise({
    'server/services/gates.ts': "import { runs } from './runs.ts';\nexport const gates = () => runs;\n",
    'server/services/runs.ts': "import { gates } from './gates.ts';\nexport const runs = () => gates;\n",
  });
  assert.notEqual(result.status, 0);
  assert.match(result.output, /no-circular/);
});
