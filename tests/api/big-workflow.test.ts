// A published 5,000-step workflow runs and re-runs: the run's step rows are inserted in batches under SQLite's
// limit on bound variables (before: 500 "SQLITE_ERROR: too many SQL variables").
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eq } from 'drizzle-orm';
import { runSteps } from '../../db/schema.ts';
import { json, publishWorkflow, startRun } from '../helpers/runs.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const STEPS = 5000;
let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

const bigWorkflow = () =>
  `name: big\npipelines:\n  main:\n    runs_on: [nobody-has-this-label]\n    steps:\n` +
  Array.from({ length: STEPS }, (_, i) => `      - {name: s${i}, type: step.set, config: {values: {n: ${i}}}}\n`).join('');

test('a run of a 5,000-step workflow starts with every step, and re-runs', { timeout: 120_000 }, async () => {
  const workflowId = await publishWorkflow(server, 'big', bigWorkflow());
  const run = await startRun(server, workflowId);
  const rows = await server.database.db.select({ index: runSteps.index }).from(runSteps).where(eq(runSteps.runId, run.id));
  assert.equal(rows.length, STEPS);
  assert.deepEqual(
    rows.map((r) => r.index).sort((a, b) => a - b),
    Array.from({ length: STEPS }, (_, i) => i),
  );

  const cancelled = await server.call('POST', `/api/runs/${run.id}/cancel`);
  assert.equal(cancelled.status, 200, await cancelled.clone().text());
  const rerun = await server.call('POST', `/api/runs/${run.id}/rerun`, {});
  assert.equal(rerun.status, 201, await rerun.clone().text());
  const { id: rerunId } = await json(rerun);
  const rerunRows = await server.database.db.select({ index: runSteps.index }).from(runSteps).where(eq(runSteps.runId, rerunId));
  assert.equal(rerunRows.length, STEPS);
});
