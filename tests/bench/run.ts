import { spawnSync } from 'node:child_process';
import { benchCliHelp } from './cli-help.ts';
import { benchClaims } from './claims.ts';
import { benchLogLatency } from './log-latency.ts';
import { benchLogMemory } from './log-memory.ts';
import { benchContainerStep, benchRemoteStepCall } from './plugin-overhead.ts';
import { benchTryActivate } from './try-activate.ts';
import { benchTryActivateMemory } from './try-activate-memory.ts';

benchTryActivate();
await benchTryActivateMemory();
benchCliHelp();
await benchLogMemory();
await (await import('./log-throughput.ts')).benchLogThroughput();
await benchLogLatency();
await benchRemoteStepCall();
await benchContainerStep();
await benchClaims();
await (await import('./job-container.ts')).benchJobContainer();
await (await import('./replicas.ts')).benchReplicas();
await (await import('./artifacts.ts')).benchArtifacts();

// The browser figures start their own server and Chromium; each runs in its own process.
for (const script of ['tests/bench/xterm-bench.ts', 'tests/bench/editor-bench.ts']) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', script], { stdio: 'inherit' });
  if (result.status !== 0) process.exitCode = 1;
}
