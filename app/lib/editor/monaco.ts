/**
 * Monaco with YAML only, monaco-yaml driven by the served JSON Schema, and both web workers bundled by
 * Vite (no CDN, so the editor works offline). Heavy: import it through `loadEditorKit()` only.
 */
import * as monaco from 'monaco-editor/esm/vs/editor/edcore.main.js';
import 'monaco-editor/esm/vs/basic-languages/yaml/yaml.contribution.js';
import EditorWorker from 'monaco-editor/esm/vs/editor/editor.worker.js?worker';
import { configureMonacoYaml } from 'monaco-yaml';
import { request } from '$lib/api/core';
import YamlWorker from './yaml.worker.ts?worker';
import { forgetStepTypes, registerWorkflowHelp } from './completions';

export { monaco };

const newWorker = (label: string | undefined): Worker => (label === 'yaml' ? new YamlWorker() : new EditorWorker());
globalThis.MonacoEnvironment = { getWorker: (_moduleId: string, label: string) => newWorker(label) };

// monaco-yaml (through monaco-worker-manager) still calls createWebWorker({ label, createData }), while
// Monaco's core now wants the Worker itself. editor.main.js bridges the two for its own languages; this
// leaner core does not, so bridge it the same way: start the worker, then hand it its create data.
const createWebWorker = monaco.editor.createWebWorker;
monaco.editor.createWebWorker = ((options: monaco.editor.IInternalWebWorkerOptions) => {
  if (options.worker !== undefined) return createWebWorker(options);
  const legacy = options as unknown as { label?: string; createData?: unknown; host?: unknown; keepIdleModels?: boolean };
  const worker = newWorker(legacy.label);
  worker.postMessage('ignore');
  worker.postMessage(legacy.createData);
  return createWebWorker({ worker, host: legacy.host, keepIdleModels: legacy.keepIdleModels });
}) as typeof createWebWorker;

const SCHEMA_URL = new URL('/api/schema/workflow.json', location.origin).toString();
/** Workflow drafts live at these URIs; the schema applies to them (and not to read-only versions). */
const DRAFT_SUFFIX = '.flowyard.yaml';
const draftUri = (workflowId: string) => monaco.Uri.file(`/drafts/${workflowId}${DRAFT_SUFFIX}`);

let yamlSupport: ReturnType<typeof configureMonacoYaml> | undefined;
let servedSchema = '';

/**
 * Completion, hover and schema diagnostics for drafts, from the schema the server serves. It is asked for again
 * for each draft opened (a revalidation, usually a 304): installing a plugin adds step types to it.
 */
async function configureYaml(): Promise<void> {
  registerWorkflowHelp(monaco, DRAFT_SUFFIX);
  forgetStepTypes();
  const schema = await request<Record<string, unknown>>('/schema/workflow.json');
  const text = JSON.stringify(schema);
  if (text === servedSchema) return;
  servedSchema = text;
  const options = { enableSchemaRequest: false, format: { enable: false }, schemas: [{ uri: SCHEMA_URL, fileMatch: [`*${DRAFT_SUFFIX}`], schema }] };
  if (yamlSupport) await yamlSupport.update(options);
  else yamlSupport = configureMonacoYaml(monaco, options);
}

/** A new, empty YAML model for a workflow's draft (the co-editing document fills it). */
export async function createDraftModel(workflowId: string): Promise<monaco.editor.ITextModel> {
  await configureYaml();
  monaco.editor.getModel(draftUri(workflowId))?.dispose();
  return monaco.editor.createModel('', 'yaml', draftUri(workflowId));
}

/** A read-only model of a published version (no schema checks: it built when it was published). */
export function createVersionModel(workflowId: string, number: number, yaml: string): monaco.editor.ITextModel {
  const uri = monaco.Uri.file(`/versions/${workflowId}/v${number}.yaml`);
  monaco.editor.getModel(uri)?.dispose();
  return monaco.editor.createModel(yaml, 'yaml', uri);
}

// The editors follow the page's light or dark scheme.
const dark = matchMedia('(prefers-color-scheme: dark)');
const applyTheme = () => monaco.editor.setTheme(dark.matches ? 'vs-dark' : 'vs');
applyTheme();
dark.addEventListener('change', applyTheme);
