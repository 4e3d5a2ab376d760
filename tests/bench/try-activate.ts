import { parse } from 'yaml';
import { buildWorkflow } from '../../server/engine/build.ts';

/** A realistic workflow with `steps` steps: shell steps with templates reading earlier outputs, logs, sets. */
export function generateWorkflow(steps: number): string {
  const lines = [
    'name: generated',
    'version: "1.0"',
    'secrets: [TOKEN]',
    'pipelines:',
    '  build:',
    '    runs_on: [linux]',
    '    inputs:',
    '      target: { type: string, default: prod }',
    '    env: { STAGE: ci }',
    '    steps:',
  ];
  for (let i = 0; i < steps; i++) {
    const kind = i % 3;
    lines.push(`      - name: step_${i}`);
    if (kind === 0) {
      lines.push('        type: step.shell_exec', '        config:', '          image: flowyard/busybox:latest', '          commands:');
      lines.push(`            - echo "step ${i} for {{ .Inputs.target | upper }}"`, '            - make build');
      lines.push('          timeout: 300s', '          memory_limit: 512m', `          env: { N: "${i}", SECRET: "{{ .Secrets.TOKEN }}" }`);
    } else if (kind === 1) {
      lines.push(
        '        type: step.set',
        '        config:',
        '          values:',
        `            value_${i}: "{{ .steps.step_${i - 1}.exit_code | default 0 }}"`,
      );
    } else {
      lines.push('        type: step.log', '        config:', `          message: "set {{ .steps.step_${i - 1}.value_${i - 1} }} in {{ .Env.STAGE }}"`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Interleaves both measurements so machine noise hits them alike. */
function measure(text: string, rounds: number): { parseMs: number; buildMs: number } {
  const parseTimes: number[] = [];
  const buildTimes: number[] = [];
  for (let i = 0; i < rounds; i++) {
    let t = performance.now();
    parse(text);
    parseTimes.push(performance.now() - t);
    t = performance.now();
    const result = buildWorkflow(text);
    buildTimes.push(performance.now() - t);
    if (!result.ok) throw new Error(`generated workflow does not build: ${result.error}`);
  }
  return { parseMs: median(parseTimes), buildMs: median(buildTimes) };
}

export function benchTryActivate(): void {
  console.log('try-activate (build) vs yaml.parse of the same text, median of interleaved runs');
  console.log('steps  bytes      yaml.parse   build       ratio');
  for (const [steps, rounds] of [
    [50, 60],
    [500, 20],
    [5000, 6],
  ] as const) {
    const text = generateWorkflow(steps);
    measure(text, 2);
    const { parseMs, buildMs } = measure(text, rounds);
    console.log(
      `${String(steps).padEnd(6)} ${String(text.length).padEnd(10)} ${parseMs.toFixed(2).padStart(8)} ms ${buildMs.toFixed(2).padStart(8)} ms  ${(buildMs / parseMs).toFixed(2)}x`,
    );
  }
}
