import { spawnSync } from 'node:child_process';
import { benchCliHelp } from './cli-help.ts';
import { benchArtifacts } from './artifacts.ts';
import { benchClaims } from './claims.ts';
import { benchJobContainer } from './job-container.ts';
import { benchLogLatency } from './log-latency.ts';
import { benchLogMemory } from './log-memory.ts';
import { benchLogThroughput } from './log-throughput.ts';
import { benchContainerStep, benchRemoteStepCall } from './plugin-overhead.ts';
import { benchReplicas } from './replicas.ts';
import { benchTryActivate } from './try-activate.ts';
import { benchTryActivateMemory } from './try-activate-memory.ts';

benchTryActivate();
await benchTryActivateMemory();
benchCliHelp();
await benchLogMemory();
await benchLogThroughput();
await benchLogLatency();
await benchRemoteStepCall();
await benchContainerStep();
await benchClaims();
await benchJobContainer();
await benchReplicas();
await benchArtifacts();

// The browser figures start their own server and Chromium; each runs in its own process.
for (const script of ['tests/bench/xterm-bench.ts', 'tests/bench/editor-bench.ts']) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', script], { stdio: 'inherit' });
  if (result.status !== 0) process.exitCode = 1;
}
