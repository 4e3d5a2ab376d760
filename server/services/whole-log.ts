import type { Db } from '../../db/client.ts';
import { readLogTail, readWholeLog } from './logs.ts';
import { concat } from './logs.ts';

interface LoggedStep {
  index: number;
  name: string;
  state: string;
  jobIndex: number;
}

const encoder = new TextEncoder();
/** A bold rule between steps, so the whole log reads like one job's output in CI tools. */
const heading = (step: LoggedStep) => encoder.encode(`\x1b[1m── ${step.name} (${step.state.replaceAll('_', ' ')}) ──\x1b[0m\n`);

/** Main steps in run order (compensation steps, job -1, come last as they run last). */
const ordered = (steps: LoggedStep[]) => [...steps.filter((s) => s.jobIndex >= 0), ...steps.filter((s) => s.jobIndex < 0)];

/** Every step's log one after the other, each under a heading, streamed page by page. */
export async function* readRunLog(db: Db, runId: string, steps: LoggedStep[]): AsyncGenerator<Uint8Array> {
  for (const step of ordered(steps)) {
    yield heading(step);
    let last = 10;
    for await (const chunk of readWholeLog(db, runId, step.index)) {
      if (chunk.length) last = chunk[chunk.length - 1]!;
      yield chunk;
    }
    if (last !== 10) yield encoder.encode('\n');
  }
}

/**
 * The last `maxLines` lines of the whole log, reading steps from the last backwards and each from its end,
 * so memory holds only what is returned. `truncated` says whether earlier lines exist.
 */
export async function readRunLogTail(db: Db, runId: string, steps: LoggedStep[], maxLines: number): Promise<{ data: Uint8Array; truncated: boolean }> {
  const parts: Uint8Array[] = [];
  let remaining = maxLines;
  const list = ordered(steps);
  let i = list.length - 1;
  for (; i >= 0 && remaining > 0; i--) {
    const step = list[i]!;
    const tail = await readLogTail(db, runId, step.index, remaining);
    const text = tail.data.length && tail.data[tail.data.length - 1] !== 10 ? concat([tail.data, encoder.encode('\n')]) : tail.data;
    remaining -= text.reduce((n, byte) => n + (byte === 10 ? 1 : 0), 0);
    if (tail.truncated || remaining <= 0) {
      parts.unshift(text);
      return { data: concat(parts), truncated: true };
    }
    parts.unshift(heading(step), text);
    remaining -= 1;
  }
  return { data: concat(parts), truncated: i >= 0 };
}
