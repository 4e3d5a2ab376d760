import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const bin = resolve(root, 'bin/flowyard.js');

function timed(args: string[]): number {
  const started = performance.now();
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'ignore' });
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} exited ${result.status}`);
  return performance.now() - started;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** `flowyard --help` wall time (Node start-up included), interleaved with a bare `node -e 0` as the floor. */
export function benchCliHelp(rounds = 15): void {
  const help: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < rounds; i++) {
    help.push(timed([bin, '--help']));
    bare.push(timed(['-e', '0']));
  }
  const helpMs = median(help);
  const bareMs = median(bare);
  console.log(
    `flowyard --help: median ${helpMs.toFixed(0)} ms (goal < 500 ms: ${helpMs < 500 ? 'met' : 'missed'}); ${(helpMs / bareMs).toFixed(2)}× a bare node start (${bareMs.toFixed(0)} ms), ${rounds} interleaved rounds`,
  );
}
