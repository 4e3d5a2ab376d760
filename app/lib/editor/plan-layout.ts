import type { PipelinePlan, PlanStep } from '$lib/api/types';

/** Where each part of a pipeline's plan goes in an SVG: steps top to bottom, grouped in jobs. */
export interface PlanLayout {
  width: number;
  height: number;
  nodes: Array<{ step: PlanStep; x: number; y: number; compensation: boolean }>;
  groups: Array<{ label: string; x: number; y: number; width: number; height: number }>;
  edges: Array<{ kind: PipelinePlan['edges'][number]['kind']; from: string; to: string; path: string }>;
}

export const NODE_WIDTH = 210;
export const NODE_HEIGHT = 38;
const GAP = 16;
const PAD = 10;
const HEADER = 22;
const LANE = 9;

/** Lays out steps in order; sequence edges run straight down, the others arc on the right in lanes that do not cross. */
export function layoutPlan(pipeline: PipelinePlan): PlanLayout {
  const nodes: PlanLayout['nodes'] = [];
  const groups: PlanLayout['groups'] = [];
  let y = PAD;
  const place = (steps: PlanStep[], label: string, compensation: boolean) => {
    const top = y;
    y += HEADER;
    for (const step of steps) {
      nodes.push({ step, x: PAD * 2, y, compensation });
      y += NODE_HEIGHT + GAP;
    }
    groups.push({ label, x: PAD, y: top, width: NODE_WIDTH + PAD * 2, height: y - GAP + PAD - top });
    y += PAD * 2;
  };
  for (let job = 0; job < pipeline.jobs; job++) {
    const steps = pipeline.steps.filter((s) => s.job === job);
    if (steps.length) place(steps, pipeline.jobs > 1 ? `job ${job + 1}` : 'job', false);
  }
  if (pipeline.compensation.length) place(pipeline.compensation, 'on error: compensation', true);

  const at = new Map(nodes.map((n) => [n.step.name, n]));
  const lanes: Array<Array<[number, number]>> = [];
  const edges: PlanLayout['edges'] = [];
  let widest = 0;
  for (const edge of pipeline.edges) {
    const from = at.get(edge.from);
    const to = at.get(edge.to);
    if (!from || !to) continue;
    const right = from.x + NODE_WIDTH;
    if (edge.kind === 'sequence' && from.compensation === to.compensation) {
      edges.push({ ...edge, path: `M ${from.x + NODE_WIDTH / 2} ${from.y + NODE_HEIGHT} V ${to.y - 2}` });
      continue;
    }
    const y1 = from.y + NODE_HEIGHT / 2;
    const y2 = to.y + NODE_HEIGHT / 2;
    const span: [number, number] = [Math.min(y1, y2), Math.max(y1, y2)];
    let lane = lanes.findIndex((taken) => taken.every(([a, b]) => span[1] <= a || span[0] >= b));
    if (lane < 0) lane = lanes.push([]) - 1;
    lanes[lane]!.push(span);
    widest = Math.max(widest, lane + 1);
    const bend = right + 14 + lane * LANE;
    edges.push({ ...edge, path: `M ${right} ${y1} C ${bend} ${y1}, ${bend} ${y2}, ${right + 4} ${y2}` });
  }
  return { width: PAD * 4 + NODE_WIDTH + 24 + widest * LANE, height: y, nodes, groups, edges };
}
