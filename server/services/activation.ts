import { Cron } from 'croner';
import type { BuildResult } from '../engine/build.ts';

type Built = Extract<BuildResult, { ok: true }>;

/** What a published version registers: the webhook paths and schedules of its pipelines. */
export interface Activation {
  webhooks: Array<{ pipeline: string; path: string; method: string; secretName: string | null }>;
  schedules: Array<{ pipeline: string; cron: string; timezone: string; nextRunAt: Date | null }>;
}

export function activationFor(build: Built, now: number): Activation {
  const activation: Activation = { webhooks: [], schedules: [] };
  const workflow = build.workflow;
  const triggers = [
    ...Object.entries(workflow.pipelines).flatMap(([pipeline, p]) => (p.trigger ? [{ pipeline, trigger: p.trigger }] : [])),
    ...(workflow.triggers ?? []).map((trigger) => ({ pipeline: trigger.pipeline, trigger })),
  ];
  for (const { pipeline, trigger } of triggers) {
    if (trigger.type === 'http') {
      activation.webhooks.push({ pipeline, path: trigger.config.path, method: trigger.config.method, secretName: trigger.config.secret ?? null });
    } else if (trigger.type === 'schedule') {
      const next = new Cron(trigger.config.cron, { paused: true, timezone: trigger.config.timezone }).nextRun(new Date(now));
      activation.schedules.push({ pipeline, cron: trigger.config.cron, timezone: trigger.config.timezone, nextRunAt: next });
    }
  }
  return activation;
}
