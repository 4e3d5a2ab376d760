import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conditionHolds, ExpressionError, expressionPaths, parseExpression } from '../../server/engine/expressions.ts';

const data = { steps: { scan: { passed_gate: true, summary: { critical: 0, high: 2 } }, 'image-scan': { passed_gate: false } }, env: 'prod' };

test('gate conditions: paths, literals, comparisons, boolean logic, precedence', () => {
  assert.equal(conditionHolds('steps.scan.passed_gate == true', data), true);
  assert.equal(conditionHolds('steps.scan.passed_gate == true && steps.image-scan.passed_gate == true', data), false);
  assert.equal(conditionHolds('steps.scan.passed_gate && !steps.image-scan.passed_gate', data), true);
  assert.equal(conditionHolds('steps.scan.summary.critical == 0 && steps.scan.summary.high <= 2', data), true);
  assert.equal(conditionHolds('steps.scan.summary.high > 2 || env == "prod"', data), true);
  assert.equal(conditionHolds("env != 'prod'", data), false);
  assert.equal(conditionHolds('false || true && false', data), false, '&& binds tighter than ||');
  assert.equal(conditionHolds('(false || true) && true', data), true);
  assert.equal(conditionHolds('steps.missing.passed_gate == true', data), false);
  assert.equal(conditionHolds('steps.scan.summary.critical < -1', data), false);
});

test('bad expressions are clear errors with offsets, and nothing is executed', () => {
  for (const [source, offset] of [
    ['steps.a ==', 10],
    ['(a == 1', 7],
    ['a === 1', 4],
    ['a == "x', 5],
    ['process.exit()', 12],
    ['a; b', 1],
  ] as const) {
    assert.throws(
      () => parseExpression(source),
      (error: unknown) => error instanceof ExpressionError && error.offset === offset,
      source,
    );
  }
  assert.deepEqual(
    expressionPaths(parseExpression('steps.a.x == 1 && !steps.b.y')).map((p) => p.path.join('.')),
    ['steps.a.x', 'steps.b.y'],
  );
});
