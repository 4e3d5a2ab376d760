/**
 * A small, safe expression language for gate conditions: `steps.scan.passed_gate == true && steps.scan.
 * summary.critical == 0`. Literals (numbers, 'strings', "strings", true, false, null), dotted paths into the
 * data (names may contain - and _), comparisons, &&, ||, ! and parentheses. No calls, no eval.
 */
type Token = { kind: 'num' | 'str' | 'path' | 'op' | 'lit'; text: string; value?: unknown; at: number };
type Node =
  | { kind: 'value'; value: unknown }
  | { kind: 'path'; path: string[]; at: number }
  | { kind: 'not'; operand: Node }
  | { kind: 'binary'; op: string; left: Node; right: Node };

export class ExpressionError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const OPERATORS = ['==', '!=', '<=', '>=', '&&', '||', '<', '>', '!', '(', ')'];
const PRECEDENCE: Record<string, number> = { '||': 1, '&&': 2, '==': 3, '!=': 3, '<': 4, '<=': 4, '>': 4, '>=': 4 };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const op = OPERATORS.find((o) => source.startsWith(o, i));
    if (op) {
      tokens.push({ kind: 'op', text: op, at: i });
      i += op.length;
    } else if (c === '"' || c === "'") {
      const end = source.indexOf(c, i + 1);
      if (end < 0) throw new ExpressionError('unterminated string', i);
      tokens.push({ kind: 'str', text: source.slice(i, end + 1), value: source.slice(i + 1, end), at: i });
      i = end + 1;
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(source[i + 1] ?? ''))) {
      const match = /^-?\d+(\.\d+)?/.exec(source.slice(i))!;
      tokens.push({ kind: 'num', text: match[0], value: Number(match[0]), at: i });
      i += match[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const match = /^[A-Za-z_][\w-]*(\.[A-Za-z0-9_][\w-]*)*/.exec(source.slice(i))!;
      const word = match[0];
      if (word === 'true' || word === 'false' || word === 'null')
        tokens.push({ kind: 'lit', text: word, value: word === 'null' ? null : word === 'true', at: i });
      else tokens.push({ kind: 'path', text: word, at: i });
      i += word.length;
    } else {
      throw new ExpressionError(`unexpected character ${JSON.stringify(c)}`, i);
    }
  }
  return tokens;
}

export function parseExpression(source: string): Node {
  const tokens = tokenize(source);
  let pos = 0;
  const peek = () => tokens[pos];
  const primary = (): Node => {
    const token = tokens[pos++];
    if (!token) throw new ExpressionError('expression ends too early', source.length);
    if (token.kind === 'op' && token.text === '!') return { kind: 'not', operand: primary() };
    if (token.kind === 'op' && token.text === '(') {
      const inner = binary(0);
      const close = tokens[pos++];
      if (!close || close.text !== ')') throw new ExpressionError('missing )', close?.at ?? source.length);
      return inner;
    }
    if (token.kind === 'path') return { kind: 'path', path: token.text.split('.'), at: token.at };
    if (token.kind === 'op') throw new ExpressionError(`unexpected ${token.text}`, token.at);
    return { kind: 'value', value: token.value };
  };
  const binary = (minPrecedence: number): Node => {
    let left = primary();
    for (;;) {
      const token = peek();
      const precedence = token?.kind === 'op' ? PRECEDENCE[token.text] : undefined;
      if (precedence === undefined || precedence < minPrecedence) break;
      pos++;
      left = { kind: 'binary', op: token!.text, left, right: binary(precedence + 1) };
    }
    return left;
  };
  const tree = binary(0);
  if (pos < tokens.length) throw new ExpressionError(`unexpected ${tokens[pos]!.text}`, tokens[pos]!.at);
  return tree;
}

/** Dotted paths the expression reads, with their offsets: for build-time checks. */
export function expressionPaths(node: Node): Array<{ path: string[]; at: number }> {
  if (node.kind === 'path') return [{ path: node.path, at: node.at }];
  if (node.kind === 'not') return expressionPaths(node.operand);
  if (node.kind === 'binary') return [...expressionPaths(node.left), ...expressionPaths(node.right)];
  return [];
}

function truthy(value: unknown): boolean {
  return !(value === false || value === null || value === undefined || value === 0 || value === '');
}

function compare(op: string, left: unknown, right: unknown): boolean {
  if (op === '==') return left === right || (typeof left !== typeof right && String(left) === String(right) && left !== undefined && right !== undefined);
  if (op === '!=') return !compare('==', left, right);
  const a = typeof left === 'number' ? left : Number(left);
  const b = typeof right === 'number' ? right : Number(right);
  if (Number.isNaN(a) || Number.isNaN(b)) return false;
  return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
}

export function evaluateExpression(node: Node, data: Record<string, unknown>): unknown {
  switch (node.kind) {
    case 'value':
      return node.value;
    case 'path':
      return node.path.reduce<unknown>((at, key) => (at && typeof at === 'object' ? (at as Record<string, unknown>)[key] : undefined), data);
    case 'not':
      return !truthy(evaluateExpression(node.operand, data));
    case 'binary': {
      if (node.op === '&&') return truthy(evaluateExpression(node.left, data)) && truthy(evaluateExpression(node.right, data));
      if (node.op === '||') return truthy(evaluateExpression(node.left, data)) || truthy(evaluateExpression(node.right, data));
      return compare(node.op, evaluateExpression(node.left, data), evaluateExpression(node.right, data));
    }
  }
}

export function conditionHolds(source: string, data: Record<string, unknown>): boolean {
  return truthy(evaluateExpression(parseExpression(source), data));
}
