import type { JobSpec } from '../../runners/protocol/v1.ts';

/**
 * A job as the API would hand it to a runner, for tests that drive executors directly: no steps, no
 * secrets, no modules unless given. One place to follow when the protocol's JobSpec grows a field.
 */
export function testJobSpec(overrides: Partial<JobSpec> & Pick<JobSpec, 'runId' | 'workflow' | 'pipeline'>): JobSpec {
  return {
    jobId: overrides.runId,
    runNumber: 1,
    version: null,
    steps: [],
    compensation: [],
    onError: 'stop',
    env: {},
    inputs: {},
    trigger: {},
    secrets: {},
    priorOutputs: {},
    priorContext: {},
    restoreWorkspace: null,
    saveWorkspace: null,
    strictTemplates: true,
    timeoutMs: 600_000,
    leaseMs: 60_000,
    modules: {},
    ...overrides,
  };
}
