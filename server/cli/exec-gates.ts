import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { conditionHolds } from '../engine/expressions.ts';
import type { StepConfig } from '../engine/schema/steps.ts';

/** What a local run reads of a step.gate's config (approvers and timeouts are the server's business). */
export type LocalGateConfig = Partial<Pick<StepConfig<'step.gate'>, 'type' | 'auto_approve_conditions' | 'message'>>;

/** How `flowyard exec` decides manual gates: a flag, or a question on the terminal. */
export type GatePolicy = 'approve' | 'reject' | 'ask';

export interface GateDecision {
  passed: boolean;
  type: 'manual' | 'auto';
  reason: string;
}

/** Asks until the answer is yes or no; a closed input or an aborted run (Ctrl-C) rejects. */
export async function askOnTerminal(question: string, input: Readable, output: Writable, signal?: AbortSignal): Promise<boolean> {
  const rl = createInterface({ input, terminal: false });
  const stop = () => rl.close();
  signal?.addEventListener('abort', stop, { once: true });
  output.write(question);
  try {
    for await (const line of rl) {
      const answer = line.trim().toLowerCase();
      if (['y', 'yes', 'approve'].includes(answer)) return true;
      if (['n', 'no', 'reject'].includes(answer)) return false;
      output.write(`answer y (approve) or n (reject)\n${question}`);
    }
    return false;
  } finally {
    signal?.removeEventListener('abort', stop);
    rl.close();
  }
}

/**
 * The server's gate rules, locally: auto-approve conditions over earlier step outputs first; an `auto` gate
 * whose conditions fail is rejected; a manual gate takes the policy, and `ask` needs a terminal.
 */
export async function decideGate(
  name: string,
  config: LocalGateConfig,
  steps: Record<string, unknown>,
  policy: GatePolicy,
  terminal: { input: Readable & { isTTY?: boolean }; output: Writable & { isTTY?: boolean }; signal?: AbortSignal },
): Promise<GateDecision> {
  const conditions = config.auto_approve_conditions ?? [];
  if (conditions.length > 0 && conditions.every((condition) => conditionHolds(condition, { steps }))) {
    return { passed: true, type: 'auto', reason: `approved: ${conditions.join(' and ')}` };
  }
  if (config.type === 'auto') return { passed: false, type: 'auto', reason: `conditions did not hold: ${conditions.join(' and ') || 'none given'}` };
  if (policy === 'approve') return { passed: true, type: 'manual', reason: 'approved by --approve-gates' };
  if (policy === 'reject') return { passed: false, type: 'manual', reason: 'rejected by --reject-gates' };
  if (!terminal.input.isTTY || !terminal.output.isTTY) {
    throw new Error(`gate "${name}" needs a decision and there is no terminal to ask: pass --approve-gates or --reject-gates`);
  }
  const question = `gate "${name}"${config.message ? `: ${config.message}` : ''} — approve? [y/n] `;
  const passed = await askOnTerminal(question, terminal.input, terminal.output, terminal.signal);
  return { passed, type: 'manual', reason: passed ? 'approved on the terminal' : 'rejected on the terminal' };
}
