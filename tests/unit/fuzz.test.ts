import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { buildWorkflow } from '../../server/engine/build.ts';
import { testApi, type TestApi } from '../helpers/api.ts';
import { exampleTexts, mutate, randomSoup, seededRandom } from '../helpers/fuzz.ts';

const CASES = 2500;
const seeds = exampleTexts();

function fuzzInput(i: number): string {
  const random = seededRandom(i + 1);
  return i % 5 === 4 ? randomSoup(random) : mutate(seeds[i % seeds.length]!, random);
}

function assertWellFormedFailure(input: string, result: ReturnType<typeof buildWorkflow>, label: string) {
  if (result.ok) return;
  assert.ok(result.diagnostics.length > 0, `${label}: failure without diagnostics`);
  const lineCount = input.split('\n').length + 1;
  for (const d of result.diagnostics) {
    assert.ok(Number.isInteger(d.line) && d.line >= 1 && d.line <= lineCount, `${label}: bad line ${d.line} in ${JSON.stringify(d)}`);
    assert.ok(Number.isInteger(d.column) && d.column >= 1, `${label}: bad column in ${JSON.stringify(d)}`);
    assert.ok(d.message.length > 0, `${label}: empty message`);
  }
}

let api: TestApi;
before(async () => {
  api = await testApi();
});
after(() => api.database.cleanup());

test(`build survives ${CASES} mutated and random inputs`, () => {
  let failures = 0;
  for (let i = 0; i < CASES; i++) {
    const input = fuzzInput(i);
    let result: ReturnType<typeof buildWorkflow>;
    try {
      result = buildWorkflow(input);
    } catch (error) {
      assert.fail(`case ${i} threw: ${(error as Error).stack}\n--- input ---\n${input}`);
    }
    if (!result.ok) failures++;
    assertWellFormedFailure(input, result, `case ${i}`);
  }
  // The mutations must actually reach the error paths, or this test would prove nothing.
  assert.ok(failures > CASES / 4, `only ${failures} of ${CASES} inputs failed to build`);
});

test(`POST /api/try-activate answers ${CASES} mutated and random inputs without a 5xx`, async () => {
  const statuses = new Map<number, number>();
  for (let i = 0; i < CASES; i++) {
    const input = fuzzInput(i + CASES);
    const response = await api.call('POST', '/api/try-activate', { yaml: input });
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    const text = await response.text();
    assert.ok([200, 422].includes(response.status), `case ${i}: status ${response.status}: ${text}`);
    const body = JSON.parse(text) as { status: string; diagnostics: Array<{ line: number }> };
    if (response.status === 422) {
      assert.equal(body.status, 'build_failed');
      assert.ok(body.diagnostics.length > 0 && body.diagnostics.every((d) => d.line >= 1), `case ${i}: diagnostics without lines`);
    }
  }
  assert.ok((statuses.get(422) ?? 0) > 0 && (statuses.get(200) ?? 0) > 0, `statuses: ${JSON.stringify([...statuses])}`);
});
