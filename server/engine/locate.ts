import { isMap, isPair, isScalar, isSeq, type Node } from 'yaml';
import { formatPath, type Diagnostic, type PathSegment, type Severity } from './diagnostics.ts';
import { positionOf, type SourceDocument } from './source.ts';

export interface Located {
  /** The value node at the path, or the deepest existing ancestor. */
  node: Node | null;
  /** The key node of the last map entry walked through. */
  keyNode: Node | null;
  /** True when every segment of the path exists. */
  complete: boolean;
}

export function locate(source: SourceDocument, path: readonly PathSegment[]): Located {
  let node = source.doc.contents as Node | null;
  let keyNode: Node | null = null;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) return { node, keyNode, complete: false };
      keyNode = pair.key as Node;
      node = (pair.value as Node | null) ?? keyNode;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as Node | undefined;
      if (!item) return { node, keyNode, complete: false };
      node = item;
      keyNode = null;
    } else {
      return { node, keyNode, complete: false };
    }
  }
  return { node, keyNode, complete: true };
}

export type Anchor = 'key' | 'value';

/** Builds a diagnostic at a path; `anchor` picks the key (for unknown or missing fields) or the value. */
export function diagnosticAt(
  source: SourceDocument,
  path: readonly PathSegment[],
  severity: Severity,
  code: string,
  message: string,
  anchor: Anchor = 'value',
): Diagnostic {
  const found = locate(source, path);
  const target = (anchor === 'key' || !found.complete ? found.keyNode : null) ?? found.node;
  const range = target?.range;
  const start = positionOf(source.lineCounter, range?.[0] ?? 0);
  const end = positionOf(source.lineCounter, range?.[1] ?? range?.[0] ?? 0);
  return {
    severity,
    code,
    message,
    path: formatPath(path),
    line: start.line,
    column: start.column,
    endLine: end.line,
    endColumn: end.column,
  };
}

/**
 * Position of a piece of a string value (a template action) in the source text. Escapes and folding can make
 * value offsets differ from source offsets, so the piece is searched for inside the node's source range.
 */
export function diagnosticInString(
  source: SourceDocument,
  path: readonly PathSegment[],
  value: string,
  offset: number,
  length: number,
  severity: Severity,
  code: string,
  message: string,
): Diagnostic {
  const base = diagnosticAt(source, path, severity, code, message);
  const { node } = locate(source, path);
  const range = node?.range;
  if (!range) return base;
  const piece = value.slice(offset, offset + Math.max(1, length));
  const sourceText = source.text.slice(range[0], range[1]);
  // When the text up to the piece appears verbatim (no escapes or folding before it), map the offset
  // directly; otherwise find the piece itself.
  const quote = sourceText[0] === '"' || sourceText[0] === "'" ? 1 : 0;
  const verbatim = sourceText.startsWith(value.slice(0, offset + piece.length), quote);
  const at = verbatim ? quote + offset : sourceText.indexOf(piece);
  if (at < 0) return base;
  const start = positionOf(source.lineCounter, range[0] + at);
  const end = positionOf(source.lineCounter, range[0] + at + piece.length);
  return { ...base, line: start.line, column: start.column, endLine: end.line, endColumn: end.column };
}
