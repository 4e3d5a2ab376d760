// `npm run lint` (part of `npm test`) fails on lint errors and on unformatted code, shown with the repository's own configs.
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { ESLint } from 'eslint';
import * as prettier from 'prettier';

const repo = resolve(import.meta.dirname, '../..');

test('ESLint rejects an unused variable and an explicit any in server code', async () => {
  const eslint = new ESLint({ cwd: repo });
  const [result] = (await eslint.lintText('export function f(value: any) {\n  const unused = 1;\n  return value;\n}\n', {
    filePath: resolve(repo, 'server/services/lint-probe.ts'),
  })) as [ESLint.LintResult];
  const rules = result.messages.map((m) => m.ruleId).sort();
  assert.deepEqual(rules, ['@typescript-eslint/no-explicit-any', '@typescript-eslint/no-unused-vars']);
});

test('ESLint lints Svelte components', async () => {
  const eslint = new ESLint({ cwd: repo });
  const [result] = (await eslint.lintText('<script lang="ts">\n  let unused = 1;\n</script>\n\n<p>hi</p>\n', {
    filePath: resolve(repo, 'app/lib/LintProbe.svelte'),
  })) as [ESLint.LintResult];
  assert.ok(
    result.messages.some((m) => m.ruleId === '@typescript-eslint/no-unused-vars'),
    JSON.stringify(result.messages),
  );
});

test('Prettier flags code that is not in the repository style', async () => {
  const filepath = resolve(repo, 'server/services/format-probe.ts');
  const options = { ...(await prettier.resolveConfig(filepath)), filepath };
  assert.equal(await prettier.check('const a = {b:1}\n', options), false);
  assert.equal(await prettier.check('const a = { b: 1 };\n', options), true);
  assert.equal(options.printWidth, 160);
});
