// parseSource shares the outcome of the last text parsed while it is still in use (a build and the service checks
// after it parse the same text); a different text, or bytes, are always parsed afresh.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSource } from '../../server/engine/source.ts';

const workflow = (value: number) => `name: w\npipelines:\n  p:\n    steps:\n      - {name: s, type: step.set, config: {values: {n: ${value}}}}\n`;

test('the same text while its outcome is alive gives the same outcome; another text its own', () => {
  const first = parseSource(workflow(1));
  assert.equal(parseSource(workflow(1)), first);
  const other = parseSource(workflow(2));
  assert.notEqual(other, first);
  assert.ok(first.ok && other.ok);
  assert.deepEqual(first.source.value, { name: 'w', pipelines: { p: { steps: [{ name: 's', type: 'step.set', config: { values: { n: 1 } } }] } } });
  assert.deepEqual((other.source.value as { pipelines: { p: { steps: Array<{ config: unknown }> } } }).pipelines.p.steps[0]!.config, { values: { n: 2 } });
});

test('a failed parse is shared too, and bytes are parsed afresh', () => {
  const broken = 'name: w\npipelines: [\n';
  const failed = parseSource(broken);
  assert.equal(failed.ok, false);
  assert.equal(parseSource(broken), failed);
  const bytes = new TextEncoder().encode(workflow(3));
  assert.notEqual(parseSource(bytes), parseSource(bytes));
});
