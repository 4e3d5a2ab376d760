/**
 * Editor help beyond what monaco-yaml gets from the JSON Schema: completion of template paths inside `{{ }}`
 * and quick fixes from "did you mean" diagnostics.
 */
import type * as Monaco from 'monaco-editor';
import { request } from '$lib/api/core';
import { templatePathAt, templateSuggestions, workflowOutline, type StepTypeInfo, type TemplateSuggestion } from './template-completion';

let stepTypes: Promise<Map<string, StepTypeInfo>> | undefined;

/** The next completion asks for the step types again (a draft was opened: plugins may have been installed since). */
export function forgetStepTypes(): void {
  stepTypes = undefined;
}

function loadStepTypes(): Promise<Map<string, StepTypeInfo>> {
  stepTypes ??= request<{ stepTypes: StepTypeInfo[] }>('/schema/step-types.json').then(({ stepTypes: list }) => new Map(list.map((def) => [def.type, def])));
  stepTypes.catch(() => (stepTypes = undefined));
  return stepTypes;
}

function kindOf(monaco: typeof Monaco, kind: TemplateSuggestion['kind']): Monaco.languages.CompletionItemKind {
  const kinds = monaco.languages.CompletionItemKind;
  return {
    root: kinds.Module,
    step: kinds.Function,
    output: kinds.Field,
    field: kinds.Field,
    input: kinds.Variable,
    secret: kinds.Constant,
    meta: kinds.Property,
  }[kind];
}

/** A "did you mean" diagnostic's replacement, as the server sends it on the marker's `code`. */
export interface QuickFix {
  title: string;
  replacement: string;
}

const quickFixes = new WeakMap<Monaco.editor.ITextModel, Map<string, QuickFix>>();
const markerKey = (range: Monaco.IRange, message: string) => `${range.startLineNumber}:${range.startColumn}:${message}`;

/** Remembers the fixes of the markers just set on `model`, so the code action provider can offer them. */
export function setQuickFixes(model: Monaco.editor.ITextModel, fixes: { range: Monaco.IRange; message: string; fix: QuickFix }[]): void {
  quickFixes.set(model, new Map(fixes.map(({ range, message, fix }) => [markerKey(range, message), fix])));
}

let registered = false;

/** Registers the providers once for YAML models whose URI ends with `suffix` (the drafts). */
export function registerWorkflowHelp(monaco: typeof Monaco, suffix: string): void {
  if (registered) return;
  registered = true;
  const isDraft = (model: Monaco.editor.ITextModel) => model.uri.path.endsWith(suffix);

  monaco.languages.registerCompletionItemProvider('yaml', {
    triggerCharacters: ['.'],
    async provideCompletionItems(model, position) {
      if (!isDraft(model)) return { suggestions: [] };
      const line = model.getLineContent(position.lineNumber);
      const path = templatePathAt(line, position.column);
      if (!path) return { suggestions: [] };
      const types = await loadStepTypes();
      const found = templateSuggestions(workflowOutline(model.getValue()), model.getOffsetAt(position), path.segments, types);
      const range = new monaco.Range(position.lineNumber, position.column - path.partial.length, position.lineNumber, position.column);
      return {
        incomplete: false,
        suggestions: found.map((s) => ({
          label: s.label,
          kind: kindOf(monaco, s.kind),
          detail: s.detail,
          documentation: s.detail,
          insertText: s.label,
          range,
          sortText: `0${s.label}`,
        })),
      };
    },
  });

  monaco.languages.registerCodeActionProvider('yaml', {
    provideCodeActions(model, _range, context) {
      const fixes = quickFixes.get(model);
      if (!fixes) return { actions: [], dispose: () => undefined };
      const actions = context.markers.flatMap((marker): Monaco.languages.CodeAction[] => {
        const fix = fixes.get(markerKey(marker, marker.message));
        if (!fix) return [];
        return [
          {
            title: fix.title,
            kind: 'quickfix',
            diagnostics: [marker],
            isPreferred: true,
            edit: { edits: [{ resource: model.uri, versionId: model.getVersionId(), textEdit: { range: marker, text: fix.replacement } }] },
          },
        ];
      });
      return { actions, dispose: () => undefined };
    },
  });
}
