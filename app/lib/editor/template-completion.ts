/**
 * What to offer inside `{{ ... }}` at the cursor: the earlier steps after `.steps.`, a step's declared outputs
 * after `.steps.<name>.`, and the declared inputs, secrets and run metadata. Pure (text in, suggestions out),
 * so it is tested without a browser; `completions.ts` hands the result to Monaco.
 */
import { isMap, isScalar, isSeq, parseDocument, type Node, type YAMLMap } from 'yaml';

export interface StepTypeInfo {
  type: string;
  description: string;
  outputs: Record<string, { description: string; fields?: string[] }>;
  dynamicOutputs: boolean;
}

export interface TemplateSuggestion {
  label: string;
  detail: string;
  kind: 'root' | 'step' | 'output' | 'field' | 'input' | 'secret' | 'meta';
}

interface OutlineStep {
  name: string;
  type: string;
  start: number;
  end: number;
  /** Keys of `config.values` (step.set), which are outputs too. */
  values: string[];
}

interface OutlinePipeline {
  name: string;
  start: number;
  end: number;
  steps: OutlineStep[];
  inputs: string[];
}

export interface WorkflowOutline {
  pipelines: OutlinePipeline[];
  secrets: string[];
}

/** The run metadata templates can read as `.meta.<key>` (docs/workflow-language.md). */
export const META_KEYS: Record<string, string> = {
  run_id: 'ID of this run',
  run_number: 'number of this run in its workflow (#1, #2, ...)',
  workflow: 'name of the workflow',
  pipeline: 'name of the pipeline',
  started_at: 'when the run started (RFC 3339)',
  trigger_type: 'manual, http or schedule',
  triggered_by: 'who or what started the run',
};

const ROOTS: TemplateSuggestion[] = [
  { label: 'steps', detail: 'outputs of earlier steps: .steps.<name>.<output>', kind: 'root' },
  { label: 'Inputs', detail: 'inputs declared by the pipeline', kind: 'root' },
  { label: 'Secrets', detail: 'secrets listed under `secrets`', kind: 'root' },
  { label: 'meta', detail: 'run metadata: run_id, run_number, workflow, ...', kind: 'root' },
  { label: 'trigger', detail: 'the trigger payload (webhook body, schedule slot)', kind: 'root' },
  { label: 'Env', detail: 'environment variables set by the pipeline or step', kind: 'root' },
  { label: 'Version', detail: 'the workflow `version`', kind: 'root' },
];

/**
 * The dotted path being typed inside an open `{{` before `column` (1-based) of `line`: `{{ .steps.build.im`
 * gives `{ segments: ['steps', 'build'], partial: 'im' }`. Null outside a template or not at a path.
 */
export function templatePathAt(line: string, column: number): { segments: string[]; partial: string } | null {
  const before = line.slice(0, column - 1);
  const open = before.lastIndexOf('{{');
  if (open < 0 || before.indexOf('}}', open) >= 0) return null;
  const path = /(?:^|[\s(|])((?:\.[A-Za-z0-9_-]*)+)$/.exec(before.slice(open + 2));
  if (!path) return null;
  const parts = path[1]!.slice(1).split('.');
  return { segments: parts.slice(0, -1), partial: parts.at(-1)! };
}

const text = (node: unknown): string | undefined => (isScalar(node) && node.value !== null && node.value !== undefined ? String(node.value) : undefined);
const mapKeys = (node: unknown): string[] => (isMap(node) ? node.items.map((pair) => text(pair.key)).filter((key): key is string => key !== undefined) : []);
const range = (node: Node | null | undefined): [number, number] => [node?.range?.[0] ?? 0, node?.range?.[2] ?? 0];

function outlineStep(node: unknown): OutlineStep | undefined {
  if (!isMap(node)) return undefined;
  const step = node as YAMLMap;
  const name = text(step.get('name', true));
  if (!name) return undefined;
  const config = step.get('config', true);
  const [start, end] = range(step);
  return { name, type: text(step.get('type', true)) ?? '', start, end, values: isMap(config) ? mapKeys(config.get('values', true)) : [] };
}

/** Pipelines with their steps and inputs, and the declared secrets, as far as the text parses. */
export function workflowOutline(source: string): WorkflowOutline {
  const doc = parseDocument(source, { keepSourceTokens: false });
  const root = doc.contents;
  const outline: WorkflowOutline = { pipelines: [], secrets: [] };
  if (!isMap(root)) return outline;
  const secrets = root.get('secrets', true);
  if (isSeq(secrets)) outline.secrets = secrets.items.map(text).filter((name): name is string => name !== undefined);
  const pipelines = root.get('pipelines', true);
  if (!isMap(pipelines)) return outline;
  for (const pair of pipelines.items) {
    const name = text(pair.key);
    if (!name || !isMap(pair.value)) continue;
    const steps = pair.value.get('steps', true);
    const [start, end] = range(pair.value as Node);
    outline.pipelines.push({
      name,
      start,
      end,
      steps: isSeq(steps) ? steps.items.map(outlineStep).filter((step): step is OutlineStep => step !== undefined) : [],
      inputs: mapKeys(pair.value.get('inputs', true)),
    });
  }
  return outline;
}

/** Suggestions for the path at `offset` of the text the outline came from. */
export function templateSuggestions(
  outline: WorkflowOutline,
  offset: number,
  segments: string[],
  stepTypes: ReadonlyMap<string, StepTypeInfo>,
): TemplateSuggestion[] {
  const pipeline = outline.pipelines.find((p) => offset >= p.start && offset <= p.end);
  const current = pipeline?.steps.findIndex((step) => offset >= step.start && offset <= step.end) ?? -1;
  const earlier = pipeline ? (current >= 0 ? pipeline.steps.slice(0, current) : pipeline.steps) : [];
  const [root, stepName, output] = segments;
  if (segments.length === 0) return ROOTS;
  switch (root?.toLowerCase()) {
    case 'steps': {
      if (segments.length === 1) return earlier.map((step) => ({ label: step.name, detail: `${step.type || 'step'} (earlier step)`, kind: 'step' }));
      const step = earlier.find((s) => s.name === stepName);
      if (!step) return [];
      const def = stepTypes.get(step.type);
      if (segments.length === 2) {
        const declared = Object.entries(def?.outputs ?? {}).map(([label, out]): TemplateSuggestion => ({ label, detail: out.description, kind: 'output' }));
        const values = def?.dynamicOutputs ? step.values.map((label): TemplateSuggestion => ({ label, detail: 'set by config.values', kind: 'output' })) : [];
        return [...declared, ...values];
      }
      const fields = segments.length === 3 ? def?.outputs[output ?? '']?.fields : undefined;
      return (fields ?? []).map((label) => ({ label, detail: `field of ${output}`, kind: 'field' }));
    }
    case 'inputs':
      return segments.length === 1 ? (pipeline?.inputs ?? []).map((label) => ({ label, detail: `input of pipeline ${pipeline!.name}`, kind: 'input' })) : [];
    case 'secrets':
      return segments.length === 1 ? outline.secrets.map((label) => ({ label, detail: 'secret (value masked in logs)', kind: 'secret' })) : [];
    case 'meta':
      return segments.length === 1 ? Object.entries(META_KEYS).map(([label, detail]) => ({ label, detail, kind: 'meta' })) : [];
    default:
      return [];
  }
}
