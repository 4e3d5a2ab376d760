import { structuredPatch } from 'diff';
import type { BuildResult } from './build.ts';
import type { PlanTrigger } from './plan.ts';

type Built = Extract<BuildResult, { ok: true }>;

export interface ChangeSummary {
  pipelines: { added: string[]; removed: string[]; changed: string[] };
  steps: Array<{ pipeline: string; added: string[]; removed: string[]; changed: string[] }>;
  modules: { added: string[]; removed: string[]; changed: string[] };
  triggers: { added: string[]; removed: string[] };
  lines: { added: number; removed: number };
  /** Unified diff of the YAML text, for review. */
  patch: string;
}

function compareByName<T>(before: Map<string, T>, after: Map<string, T>) {
  const added = [...after.keys()].filter((k) => !before.has(k));
  const removed = [...before.keys()].filter((k) => !after.has(k));
  const changed = [...after.keys()].filter((k) => before.has(k) && JSON.stringify(before.get(k)) !== JSON.stringify(after.get(k)));
  return { added, removed, changed };
}

const describeTrigger = (pipeline: string, t: PlanTrigger) =>
  t.type === 'http'
    ? `${pipeline}: http ${t.method} ${t.path}`
    : t.type === 'schedule'
      ? `${pipeline}: schedule "${t.cron}" ${t.timezone}`
      : `${pipeline}: manual`;

/** What publishing `candidate` in place of `current` would change. */
export function summariseChange(current: { yaml: string; build: Built }, candidate: { yaml: string; build: Built }): ChangeSummary {
  const before = current.build.workflow;
  const after = candidate.build.workflow;
  const pipelines = compareByName(new Map(Object.entries(before.pipelines)), new Map(Object.entries(after.pipelines)));
  const steps = Object.keys(after.pipelines)
    .filter((name) => name in before.pipelines)
    .map((name) => {
      const stepsOf = (p: (typeof after.pipelines)[string]) => new Map(p.steps.map((s) => [(s as { name: string }).name, s]));
      return { pipeline: name, ...compareByName(stepsOf(before.pipelines[name]!), stepsOf(after.pipelines[name]!)) };
    })
    .filter((s) => s.added.length + s.removed.length + s.changed.length > 0);
  const modulesOf = (w: typeof before) => new Map((w.modules ?? []).map((m) => [(m as { name: string }).name, m]));
  const triggersOf = (b: Built) => new Set(b.plan.pipelines.flatMap((p) => p.triggers.map((t) => describeTrigger(p.name, t))));
  const triggersBefore = triggersOf(current.build);
  const triggersAfter = triggersOf(candidate.build);
  const patch = structuredPatch('published', 'candidate', current.yaml, candidate.yaml, '', '', { context: 3 });
  let added = 0;
  let removed = 0;
  for (const hunk of patch.hunks) {
    for (const line of hunk.lines) {
      if (line.startsWith('+')) added++;
      else if (line.startsWith('-')) removed++;
    }
  }
  const text = patch.hunks.map((h) => [`@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`, ...h.lines].join('\n')).join('\n');
  return {
    pipelines,
    steps,
    modules: compareByName(modulesOf(before), modulesOf(after)),
    triggers: {
      added: [...triggersAfter].filter((t) => !triggersBefore.has(t)),
      removed: [...triggersBefore].filter((t) => !triggersAfter.has(t)),
    },
    lines: { added, removed },
    patch: text ? `--- published\n+++ candidate\n${text}\n` : '',
  };
}
