import { checkSize, printValue } from './values.ts';

const SPEC = /%([-0]*)(\d*)(?:\.(\d*))?([\s\S]?)/y;

function formatOne(verb: string, arg: unknown, precision: number | undefined): string | null {
  switch (verb) {
    case 's':
    case 'v': {
      const s = printValue(arg);
      return precision === undefined ? s : Array.from(s).slice(0, precision).join('');
    }
    case 'q':
      return JSON.stringify(printValue(arg));
    case 'd':
      return typeof arg === 'number' && Number.isInteger(arg) ? String(arg) : null;
    case 'f':
      return typeof arg === 'number' ? arg.toFixed(Math.min(precision ?? 6, 100)) : null;
    default:
      return null;
  }
}

function pad(s: string, flags: string, width: number, numeric: boolean): string {
  checkSize(width);
  const missing = width - s.length;
  if (missing <= 0) return s;
  if (flags.includes('-')) return s + ' '.repeat(missing);
  if (!flags.includes('0')) return ' '.repeat(missing) + s;
  const sign = numeric && s.startsWith('-') ? '-' : '';
  return sign + '0'.repeat(missing) + s.slice(sign.length);
}

/** Go's fmt.Sprintf for the verbs %s %v %q %d %f and %%, with the `-` and `0` flags, width and precision. */
export function formatPrintf(format: string, args: readonly unknown[]): string {
  let out = '';
  let next = 0;
  for (let i = 0; i < format.length;) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    SPEC.lastIndex = pct;
    const [spec = '%', flags = '', width = '', precision, verb = ''] = SPEC.exec(format) ?? [];
    i = pct + spec.length;
    if (verb === '%') out += '%';
    else if (!verb) out += '%!(NOVERB)';
    else if (next >= args.length) out += `%!${verb}(MISSING)`;
    else {
      const arg = args[next++];
      const formatted = formatOne(verb, arg, precision === undefined ? undefined : Number(precision));
      const numeric = verb === 'd' || verb === 'f';
      out += formatted === null ? `%!${verb}(${printValue(arg)})` : pad(formatted, flags, Number(width), numeric);
    }
    checkSize(out.length);
  }
  if (next < args.length) out += `%!(EXTRA ${args.slice(next).map(printValue).join(', ')})`;
  return out;
}
