import type { editor, MarkerSeverity } from 'monaco-editor';
import type { Diagnostic } from '$lib/api/types';

/** Owner of the server's build diagnostics, apart from monaco-yaml's schema markers. */
export const SERVER_MARKER_OWNER = 'flowyard-build';

/** The server's diagnostics as Monaco markers; without an end, a marker covers the rest of its line. */
export function toMarkers(diagnostics: Diagnostic[], model: editor.ITextModel, severity: typeof MarkerSeverity): editor.IMarkerData[] {
  const lines = model.getLineCount();
  return diagnostics.map((d) => {
    const line = Math.min(Math.max(d.line, 1), lines);
    const endLine = Math.min(Math.max(d.endLine ?? line, line), lines);
    const lastColumn = model.getLineMaxColumn(endLine);
    const column = Math.max(1, d.column);
    const endColumn = d.endColumn ?? lastColumn;
    return {
      owner: SERVER_MARKER_OWNER,
      source: 'flowyard build',
      code: d.code,
      message: d.message,
      severity: d.severity === 'error' ? severity.Error : d.severity === 'warning' ? severity.Warning : severity.Info,
      startLineNumber: line,
      startColumn: column,
      endLineNumber: endLine,
      endColumn: endLine === line && endColumn <= column ? lastColumn : endColumn,
    };
  });
}
