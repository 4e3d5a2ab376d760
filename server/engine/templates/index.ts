/**
 * The workflow template language: the subset of Go's text/template used in step configs, e.g.
 * `{{ .steps.build.image_id | default "latest" }}`. Pure: runs in Node, browsers and edge runtimes.
 */
import type { Expr, Node, ParsedTemplate, Pipeline } from './ast.ts';
import { lookupFunction } from './functions.ts';
import { parseTemplate } from './parser.ts';
import { render, TemplateRenderError } from './render.ts';

export type { ParsedTemplate, TemplateError } from './ast.ts';
export { TEMPLATE_FUNCTIONS, type TemplateFunction } from './functions.ts';
export { parseTemplate } from './parser.ts';
export { TemplateRenderError } from './render.ts';

export interface TemplateReference {
  /**
   * The field chain as written, starting from the root data: e.g. ['steps','build','image_id'] for
   * `.steps.build.image_id`, ['Inputs','env'] for `.Inputs.env`. Only chains rooted at `.` (the top-level data)
   * are reported, not `$var` chains (but `$.x` counts as rooted). Fields read inside `range` and `with`, where
   * `.` is rebound, and a bare `.` or `$` (an empty path) are not reported.
   */
  path: string[];
  /** Position of the field chain in the original string. */
  offset: number;
  length: number;
}

export interface RenderOptions {
  /** Make a missing map key an error instead of rendering as "" (Go's missingkey=error). */
  strict?: boolean;
}

export function hasTemplate(s: string): boolean {
  return s.includes('{{');
}

type Visitor = (e: Expr, dotIsRoot: boolean) => void;

function visitNodes(nodes: readonly Node[], dotIsRoot: boolean, visit: Visitor): void {
  for (const node of nodes) {
    switch (node.kind) {
      case 'text':
        break;
      case 'action':
        visitPipe(node.pipe, dotIsRoot, visit);
        break;
      case 'range':
        visitPipe(node.pipe, dotIsRoot, visit);
        visitNodes(node.list, false, visit);
        visitNodes(node.elseList ?? [], dotIsRoot, visit);
        break;
      default:
        for (const branch of node.branches) {
          visitPipe(branch.pipe, dotIsRoot, visit);
          visitNodes(branch.list, dotIsRoot && node.kind === 'if', visit);
        }
        visitNodes(node.elseList ?? [], dotIsRoot, visit);
    }
  }
}

function visitPipe(pipe: Pipeline, dotIsRoot: boolean, visit: Visitor): void {
  for (const cmd of pipe.cmds) visitExpr(cmd, dotIsRoot, visit);
}

function visitExpr(e: Expr, dotIsRoot: boolean, visit: Visitor): void {
  visit(e, dotIsRoot);
  if (e.kind === 'field') visitExpr(e.base, dotIsRoot, visit);
  else if (e.kind === 'pipe') visitPipe(e.pipe, dotIsRoot, visit);
  else if (e.kind === 'call') for (const arg of e.args) visitExpr(arg, dotIsRoot, visit);
}

/** The literal string arguments a call starts with, e.g. "build" "image_id" of `step "build" "image_id" $x`. */
function leadingStrings(args: readonly Expr[]): Extract<Expr, { kind: 'literal' }>[] {
  const strings: Extract<Expr, { kind: 'literal' }>[] = [];
  for (const arg of args) {
    if (arg.kind !== 'literal' || typeof arg.value !== 'string') break;
    strings.push(arg);
  }
  return strings;
}

export function templateReferences(t: ParsedTemplate): TemplateReference[] {
  const refs: TemplateReference[] = [];
  visitNodes(t.nodes, true, (e, dotIsRoot) => {
    if (e.kind === 'call' && lookupFunction(e.name)?.readsRoot) {
      // `step "build" "image_id"` reads .steps.build.image_id, whatever dot is.
      const keys = leadingStrings(e.args);
      const last = keys.at(-1);
      if (last)
        refs.push({
          path: [lookupFunction(e.name)!.readsRoot!, ...keys.map((k) => String(k.value))],
          offset: e.offset,
          length: last.offset + last.length - e.offset,
        });
      return;
    }
    if (e.kind !== 'field') return;
    const rooted = e.base.kind === 'dot' ? dotIsRoot : e.base.kind === 'var' && e.base.name === '$';
    if (rooted) refs.push({ path: [...e.names], offset: e.offset, length: e.length });
  });
  return refs.sort((a, b) => a.offset - b.offset);
}

export function templateFunctionCalls(t: ParsedTemplate): { name: string; offset: number; length: number }[] {
  const calls: { name: string; offset: number; length: number }[] = [];
  visitNodes(t.nodes, true, (e) => {
    if (e.kind === 'call') calls.push({ name: e.name, offset: e.offset, length: e.length });
  });
  return calls.sort((a, b) => a.offset - b.offset);
}

/** Throws TemplateRenderError on runtime errors (bad types, failing functions, strict missing keys, size limits). */
export function renderTemplate(t: ParsedTemplate, data: Record<string, unknown>, options?: RenderOptions): string {
  return render(t, data, options?.strict ?? false);
}

/** Parses and renders; a parse error is thrown as a TemplateRenderError too (the first one, by position). */
export function renderString(source: string, data: Record<string, unknown>, options?: RenderOptions): string {
  const { template, errors } = parseTemplate(source);
  if (template) return renderTemplate(template, data, options);
  const first = errors[0]!; // parseTemplate returns errors exactly when it returns no template
  throw new TemplateRenderError(first.message, first.offset, first.length);
}
