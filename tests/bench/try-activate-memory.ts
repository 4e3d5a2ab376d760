import { readFileSync, writeFileSync } from 'node:fs';
import { startApiProcess, type ApiProcess } from './api-process.ts';

const STEPS = 5000;
const GOAL_MIB = 64;

/** Compact flow-style steps, so that 5,000 of them fit the 1 MiB body limit. */
export const bigWorkflow = (steps: number, value = 0) =>
  `name: big\npipelines:\n  main:\n    runs_on: [nobody-has-this-label]\n    steps:\n` +
  Array.from({ length: steps }, (_, i) => `      - {name: s${i}, type: step.set, config: {values: {n: ${i === 0 ? value : i}}}}\n`).join('');

const mib = (kib: number) => kib / 1024;
const statusKiB = (pid: number, field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** How far the API process's peak RSS rises above its RSS before the request, while answering it. */
async function peakGrowth(api: ApiProcess, request: () => Promise<Response>): Promise<{ growthMiB: number; status: number; bytes: number }> {
  const pid = api.child.pid!;
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const before = statusKiB(pid, 'VmRSS');
  // Resets VmHWM to the current RSS, so the peak read afterwards is this request's.
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
  const response = await request();
  const body = await response.arrayBuffer();
  return { growthMiB: mib(statusKiB(pid, 'VmHWM') - before), status: response.status, bytes: body.byteLength };
}

/** One try-activate in a fresh, warmed-up API process: stateless, or against a published version (with the change summary). */
async function oneRound(port: number, against: boolean, round: number): Promise<{ growthMiB: number; bytes: number }> {
  const api = await startApiProcess(port);
  try {
    const small = await api.call('POST', '/api/try-activate', { yaml: bigWorkflow(10) });
    if (small.status !== 200) throw new Error(`warm-up try-activate answered ${small.status}: ${await small.text()}`);
    let path = '/api/try-activate';
    if (against) {
      const created = await api.call('POST', '/api/workflows', { name: 'big', yaml: bigWorkflow(10) });
      const { id } = (await created.json()) as { id: string };
      // A small published version first warms the publish path; the big one is what the candidate is compared with.
      for (const yaml of [bigWorkflow(10), bigWorkflow(STEPS, 2 * round)]) {
        const published = await api.call('POST', `/api/workflows/${id}/publish`, { yaml });
        if (published.status !== 200) throw new Error(`publish answered ${published.status}: ${await published.text()}`);
      }
      path = `/api/workflows/${id}/try-activate`;
    }
    const result = await peakGrowth(api, () => api.call('POST', path, { yaml: bigWorkflow(STEPS, 2 * round + 1) }));
    if (result.status !== 200) throw new Error(`POST ${path} answered ${result.status}`);
    return result;
  } finally {
    await api.stop();
  }
}

/**
 * A 5,000-step try-activate, stateless and against a published version: how far the API's peak RSS rises above
 * its RSS before, each round in a fresh process so one round's heap does not hide the next one's growth.
 */
export async function benchTryActivateMemory(port = 18941, rounds = 3): Promise<void> {
  const results = { stateless: [] as number[], against: [] as number[] };
  let answerBytes = 0;
  for (let round = 0; round < rounds; round++) {
    results.stateless.push((await oneRound(port, false, round)).growthMiB);
    const against = await oneRound(port, true, round);
    results.against.push(against.growthMiB);
    answerBytes = against.bytes;
  }
  const show = (values: number[]) => `median +${median(values).toFixed(1)} MiB (rounds: ${values.map((v) => v.toFixed(1)).join(', ')})`;
  console.log(`\n5,000-step try-activate, API in its own process (${(answerBytes / 1024 / 1024).toFixed(2)} MiB answer), peak RSS over RSS before:`);
  console.log(`  POST /api/try-activate: ${show(results.stateless)}`);
  console.log(`  POST /api/workflows/{id}/try-activate against the published version: ${show(results.against)}`);
  const worst = Math.max(median(results.stateless), median(results.against));
  console.log(`5,000-step try-activate peak RSS growth: ${worst.toFixed(1)} MiB (goal ≤ ${GOAL_MIB} MiB): ${(worst / GOAL_MIB).toFixed(2)}x of the goal`);
}

if (import.meta.url === `file://${process.argv[1]}`) await benchTryActivateMemory();
