import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Small seeded PRNG (mulberry32) so a failing fuzz case can be reproduced from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOKENS = [
  ':',
  ': ',
  '- ',
  '-',
  '{',
  '}',
  '[',
  ']',
  ',',
  '"',
  "'",
  '|',
  '>',
  '&a ',
  '*a',
  '!!str ',
  '!!binary ',
  '? ',
  '#',
  '\t',
  '\n',
  '  ',
  '---\n',
  '...\n',
  '{{',
  '}}',
  '{{ .steps.',
  '{{ .Inputs.',
  ' | default ',
  '{{- ',
  ' -}}',
  '{{ if .x }}',
  '{{ end }}',
  '{{ range $i, $v := .x }}',
  'step.shell_exec',
  'step.gate',
  'type: ',
  'config: ',
  'name: ',
  'steps: ',
  'pipelines: ',
  'modules: ',
  'trigger: ',
  'cron: "',
  '* * * *',
  'timeout: ',
  '300s',
  '512m',
  'é',
  '\u0000',
  '\ud83d\ude00',
  'null',
  '~',
  'true',
  '0x1F',
  '1e309',
];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

/** A mutated copy of `text`: insertions of YAML/template tokens, deletions, line swaps, indentation changes. */
export function mutate(text: string, random: () => number): string {
  let out = text;
  const edits = 1 + Math.floor(random() * 6);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(random() * (out.length + 1));
    const kind = random();
    if (kind < 0.4) out = out.slice(0, at) + pick(random, TOKENS) + out.slice(at);
    else if (kind < 0.65) out = out.slice(0, at) + out.slice(at + 1 + Math.floor(random() * 20));
    else if (kind < 0.8) {
      const lines = out.split('\n');
      const a = Math.floor(random() * lines.length);
      const b = Math.floor(random() * lines.length);
      [lines[a], lines[b]] = [lines[b]!, lines[a]!];
      out = lines.join('\n');
    } else if (kind < 0.9) {
      const lines = out.split('\n');
      const a = Math.floor(random() * lines.length);
      lines[a] = random() < 0.5 ? `  ${lines[a]}` : lines[a]!.replace(/^ {1,2}/, '');
      out = lines.join('\n');
    } else {
      const lines = out.split('\n');
      const a = Math.floor(random() * lines.length);
      lines.splice(a, 0, lines[a] ?? '');
      out = lines.join('\n');
    }
  }
  return out;
}

export function randomSoup(random: () => number): string {
  let out = '';
  const count = Math.floor(random() * 60);
  for (let i = 0; i < count; i++) out += pick(random, TOKENS) + (random() < 0.3 ? String.fromCharCode(32 + Math.floor(random() * 95)) : '');
  return out;
}

export function exampleTexts(): string[] {
  const dir = new URL('../../examples/', import.meta.url).pathname;
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => readFileSync(join(dir, f), 'utf8'));
}
