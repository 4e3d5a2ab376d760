import type { Diagnostic, PathSegment } from './diagnostics.ts';
import { parseExpression } from './expressions.ts';
import { diagnosticInString } from './locate.ts';
import type { SourceDocument } from './source.ts';

/**
 * Upstream's expression syntax, `${ status == "inactive" }`, is not evaluated by Flowyard: left alone it would
 * stay literal text, and a `skip_if` holding it would never skip. So it is refused, with the `{{ }}` form.
 */
type ExpressionNode = ReturnType<typeof parseExpression>;

const GO_OPERATORS: Record<string, string> = { '==': 'eq', '!=': 'ne', '<': 'lt', '<=': 'le', '>': 'gt', '>=': 'ge', '&&': 'and', '||': 'or' };
/** Upstream's `body` is its name for the trigger payload. */
const ROOT_NAMES: Record<string, string> = { body: 'trigger' };

function goTerm(node: ExpressionNode, nested: boolean): string {
  const wrap = (text: string) => (nested ? `(${text})` : text);
  switch (node.kind) {
    case 'value':
      return node.value === null ? 'nil' : typeof node.value === 'string' ? JSON.stringify(node.value) : String(node.value);
    case 'path': {
      const [root = '', ...rest] = node.path;
      return `.${[ROOT_NAMES[root] ?? root, ...rest].join('.')}`;
    }
    case 'not':
      return wrap(`not ${goTerm(node.operand, true)}`);
    case 'binary':
      return wrap(`${GO_OPERATORS[node.op]} ${goTerm(node.left, true)} ${goTerm(node.right, true)}`);
  }
}

/** The `{{ }}` form of an upstream expression body, or null when it uses more than paths, literals and operators. */
export function goTemplateFor(expression: string): string | null {
  // steps["build-image"]["image_id"] → steps.build-image.image_id (names may hold hyphens, see docs/workflow-language.md)
  const dotted = expression.replace(/\[\s*(["'])([A-Za-z0-9_][\w.-]*)\1\s*\]/g, '.$2');
  try {
    return `{{ ${goTerm(parseExpression(dotted), false)} }}`;
  } catch {
    return null;
  }
}

/** One error per `${` in the string, at its position. */
export function checkUpstreamExpressions(source: SourceDocument, path: readonly PathSegment[], text: string): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (let at = text.indexOf('${'); at >= 0; at = text.indexOf('${', at + 2)) {
    // "${{ .total }}" is a dollar sign before a template, not an expression.
    if (text.startsWith('${{', at)) continue;
    const close = text.indexOf('}', at + 2);
    const body = close < 0 ? null : text.slice(at + 2, close).trim();
    const template = body === null ? null : goTemplateFor(body);
    const written = close < 0 ? text.slice(at) : text.slice(at, close + 1);
    const message = template
      ? `"${written}" is upstream expression syntax, which Flowyard does not evaluate (it would stay literal text); write ${template}`
      : `"${written}" is upstream expression syntax, which Flowyard does not evaluate (it would stay literal text); write it as a {{ }} template, e.g. {{ eq .status "inactive" }}`;
    const start = diagnosticInString(source, path, text, at, 2, 'error', 'upstream_expression', message);
    // A quick fix only where the text can be swapped as is: the expression appears verbatim in the source (no
    // escapes inside it), and the replacement has no quotes that a quoted YAML scalar would need escaped.
    const whole = diagnosticInString(source, path, text, at, written.length, 'error', 'upstream_expression', message);
    const swappable = template !== null && !/["']/.test(template) && whole.line === start.line && whole.column === start.column;
    diagnostics.push(swappable ? { ...whole, fix: { replace: template } } : start);
  }
  return diagnostics;
}
