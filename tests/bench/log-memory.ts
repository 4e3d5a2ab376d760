import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDockerClient } from '../../runners/docker/engine.ts';
import { startRunner } from '../../runners/daemon/daemon.ts';
import { startApiProcess } from './api-process.ts';

const LOG_MB = 50;

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A step printing 50 MB: how much the API process's memory grows while storing and serving it. */
export async function benchLogMemory(port = 18931): Promise<void> {
  const api = await startApiProcess(port);
  try {
    const token = (await (await api.call('POST', '/api/runner-tokens', {})).json()) as { token: string };
    const runner = await startRunner({
      url: api.url,
      registrationToken: token.token,
      name: 'bench',
      labels: ['bench'],
      capacity: 1,
      configPath: join(tmpdir(), `bench-runner-${Date.now()}.json`),
      docker: createDockerClient(),
    });
    const yaml = `name: loud\npipelines:\n  p:\n    runs_on: [bench]\n    steps:\n      - name: print\n        type: step.shell_exec\n        config:\n          image: flowyard/busybox:latest\n          commands: ["yes 'a fairly ordinary line of build output, 64 bytes long.........' | head -c ${LOG_MB * 1024 * 1024}"]\n`;
    const workflow = (await (await api.call('POST', '/api/workflows', { name: 'loud', yaml })).json()) as { id: string };
    await api.call('POST', `/api/workflows/${workflow.id}/publish`);
    const before = api.memory();
    const started = Date.now();
    const run = (await (await api.call('POST', `/api/workflows/${workflow.id}/runs`, {})).json()) as { id: string };
    const done = await until(
      async () => (await (await api.call('GET', `/api/runs/${run.id}`)).json()) as { state: string; steps: Array<{ logBytes: number }> },
      (r) => !['queued', 'running'].includes(r.state),
    );
    const runMs = Date.now() - started;
    const afterRun = api.memory();
    const downloadStarted = Date.now();
    const raw = await api.call('GET', `/api/runs/${run.id}/logs?step=print`);
    let bytes = 0;
    for await (const chunk of raw.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.byteLength;
    const downloadMs = Date.now() - downloadStarted;
    const after = api.memory();
    await runner.stop();
    console.log(`\nlog of ${LOG_MB} MB through the API (separate process), run ${done.state}`);
    console.log(
      `  stored ${(done.steps[0]!.logBytes / 1024 / 1024).toFixed(1)} MiB, downloaded ${(bytes / 1024 / 1024).toFixed(1)} MiB raw in ${downloadMs} ms; run took ${runMs} ms`,
    );
    console.log(
      `  API memory: RSS ${before.rssMiB.toFixed(0)} MiB before; peak +${(afterRun.peakMiB - before.peakMiB).toFixed(0)} MiB while storing the log, +${(after.peakMiB - before.peakMiB).toFixed(0)} MiB after serving it raw; RSS at the end ${after.rssMiB.toFixed(0)} MiB`,
    );
  } finally {
    await api.stop();
  }
}
