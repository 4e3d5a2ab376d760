import type { Run, RunSummary, RunTrigger } from '$lib/api/types';
import { dateTime } from '$lib/format';

/** "manual", "webhook", "schedule", "re-run": the kind of trigger in words. */
export function triggerKind(trigger: RunTrigger): string {
  return { manual: 'manual', http: 'webhook', schedule: 'schedule', rerun: 're-run' }[trigger.type] ?? trigger.type;
}

/** Who or what started a run, in one line: a person, a webhook delivery, a schedule slot, or the run it re-ran. */
export function triggerText(run: Pick<RunSummary, 'trigger'>): string {
  const t = run.trigger;
  const by = t.user ? ` by ${t.user.name || t.user.email}` : '';
  if (t.rerunOf) return `re-run of #${t.rerunOf.number}${t.rerunOf.from_job > 0 ? ` from job ${t.rerunOf.from_job + 1}` : ''}${by}`;
  if (t.type === 'http') return t.deliveryId ? `webhook, delivery ${t.deliveryId}` : 'webhook';
  if (t.type === 'schedule') return t.scheduledFor ? `schedule, slot ${dateTime(t.scheduledFor)}` : 'schedule';
  return `${triggerKind(t)}${by}`;
}

/** Runner names of the run's jobs, in job order, without repeats; empty before any runner took a job. */
export function runnerNames(run: Pick<Run, 'jobs' | 'runnerNames'>): string[] {
  return [...new Set(run.jobs.map((job) => run.runnerNames[job.id]).filter((name): name is string => Boolean(name)))];
}

/** Steps that failed but were allowed to (`continue_on_error`): why a run ended succeeded_with_warnings. */
export const toleratedFailures = (run: Pick<Run, 'steps'>) => run.steps.filter((s) => s.state === 'failed' || s.state === 'timed_out');

/**
 * A re-run from the failed job differs from a whole re-run only when a later job failed (a gate split the
 * pipeline and the jobs before it got through), so only then is it offered.
 */
export const canRerunFromFailure = (run: Pick<Run, 'state' | 'steps'>) =>
  ['failed', 'timed_out', 'cancelled'].includes(run.state) && run.steps.some((s) => s.jobIndex > 0 && ['failed', 'timed_out', 'cancelled'].includes(s.state));
