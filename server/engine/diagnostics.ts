/** A problem found while building a workflow, pointing at the source it came from. */
export type Severity = 'error' | 'warning' | 'info';

export interface Diagnostic {
  severity: Severity;
  /** Stable machine-readable kind, e.g. `unknown_key`, `template_syntax`. */
  code: string;
  message: string;
  /** JSON path into the document, e.g. `pipelines.build.steps[0].config.image`. */
  path: string;
  /** 1-based line and column of the offending node (the key for unknown keys). */
  line: number;
  column: number;
  endLine?: number;
  endColumn?: number;
  /** A quick fix: text that replaces the range from line/column to endLine/endColumn (a "did you mean"). */
  fix?: { replace: string };
}

export type PathSegment = string | number;

export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** Sort by position so editors and CLIs show problems top to bottom. */
export function sortDiagnostics(diagnostics: Diagnostic[]): Diagnostic[] {
  return diagnostics.sort((a, b) => a.line - b.line || a.column - b.column || a.message.localeCompare(b.message));
}
