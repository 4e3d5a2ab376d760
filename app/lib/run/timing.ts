import type { RunState, SharedStep, StepState } from '$lib/api/types';

const ACTIVE_RUN: ReadonlySet<RunState> = new Set(['queued', 'running', 'waiting']);
const ACTIVE_STEP: ReadonlySet<StepState> = new Set(['pending', 'running', 'waiting']);

/** Queued, running or waiting at a gate: its state can still change. */
export const isActiveRun = (state: RunState) => ACTIVE_RUN.has(state);
export const isActiveStep = (state: StepState) => ACTIVE_STEP.has(state);

const time = (iso: string | null) => (iso ? new Date(iso).getTime() : null);

/** How long something ran: until it finished, or until `now` while it still runs; null before it starts. */
export function elapsedMs(item: { startedAt: string | null; finishedAt: string | null }, now: number): number | null {
  const start = time(item.startedAt);
  if (start === null) return null;
  return Math.max(0, (time(item.finishedAt) ?? now) - start);
}

/** A step's bar on the run's timeline, in percent of the span from the first start to the last end. */
export interface Bar {
  left: number;
  width: number;
}

/** Gantt bars of the steps that started (null for the others), on one shared time axis. */
export function timeline(steps: SharedStep[], now: number): Array<Bar | null> {
  const spans = steps.map((step) => {
    const start = time(step.startedAt);
    return start === null ? null : { start, end: time(step.finishedAt) ?? now };
  });
  const started = spans.filter((span) => span !== null);
  if (started.length === 0) return spans.map(() => null);
  const first = Math.min(...started.map((s) => s.start));
  const total = Math.max(1, Math.max(...started.map((s) => s.end)) - first);
  return spans.map((span) =>
    span === null ? null : { left: ((span.start - first) / total) * 100, width: Math.max(((span.end - span.start) / total) * 100, 0.5) },
  );
}

/** A failed, timed-out step: what a finished run opens on. */
export const hasFailedStep = (steps: SharedStep[]) => steps.some((s) => s.state === 'failed' || s.state === 'timed_out');

/** The step to show when none is chosen: the one running or waiting, else the first failure, else the last that started. */
export function defaultStep(steps: SharedStep[]): SharedStep | undefined {
  return (
    steps.find((s) => s.state === 'running' || s.state === 'waiting') ??
    steps.find((s) => s.state === 'failed' || s.state === 'timed_out') ??
    steps.findLast((s) => s.startedAt !== null) ??
    steps[0]
  );
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** "512 B", "1.4 KiB", "23 MiB". */
export function bytes(size: number): string {
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 || value >= 10 ? Math.round(value) : value.toFixed(1)} ${UNITS[unit]}`;
}
