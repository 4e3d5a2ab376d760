import type { Environment, EnvironmentInput } from '$lib/api/types';

/** The protection fields as the form edits them: lists as comma-separated text. */
export interface ProtectionDraft {
  protected: boolean;
  allowedWorkflows: string;
  approvers: string;
}

const listOf = (text: string) => [...new Set(text.split(/[\s,]+/).filter(Boolean))];

/** New environments start protected, as the server makes them. */
export function protectionOf(environment?: Environment): ProtectionDraft {
  return {
    protected: environment?.protected ?? true,
    allowedWorkflows: (environment?.allowedWorkflows ?? []).join(', '),
    approvers: (environment?.approvers ?? []).join(', '),
  };
}

export function protectionInput(draft: ProtectionDraft): Pick<EnvironmentInput, 'protected' | 'allowedWorkflows' | 'approvers'> {
  return { protected: draft.protected, allowedWorkflows: listOf(draft.allowedWorkflows), approvers: listOf(draft.approvers) };
}
