// The standalone check flags reads outside the repository, so a clone in an empty folder keeps passing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { findOutsideReads } from '../../scripts/check-standalone.ts';

const repo = '/srv/checkout';
// Built from parts, so that this file does not itself hold the paths the check looks for.
const climbOut = '../'.repeat(3) + 'shared/fixtures/sarif/';
const workplaceFile = ['', 'work', 'shared', 'DESIGN.md'].join('/');

test('a module URL that climbs out of the repository is flagged with its line', () => {
  const file = join(repo, 'tests/unit/sarif.test.ts');
  const text = `import x from 'y';\nconst FIXTURES = fileURLToPath(new URL('${climbOut}', import.meta.url));\n`;
  assert.deepEqual(findOutsideReads(file, text, repo), [{ file, line: 2, text: climbOut }]);
});

test('relative paths that stay inside the repository pass', () => {
  const file = join(repo, 'tests/helpers/fake-scanner.ts');
  const text = "new URL('../fixtures/sarif/', import.meta.url);\nimport { a } from '../../server/engine/build.ts';\nconst up = '../..';\n";
  assert.deepEqual(findOutsideReads(file, text, repo), []);
});

test('shell scripts that cd or source outside the repository are flagged, and so are absolute workplace paths', () => {
  const file = join(repo, 'scripts/test.sh');
  const reads = findOutsideReads(file, `cd "${'../'.repeat(2)}shared"\ncat ${workplaceFile}\n`, repo);
  assert.deepEqual(
    reads.map((r) => [r.line, r.text]),
    [
      [1, '../../shared'],
      [2, workplaceFile],
    ],
  );
});
